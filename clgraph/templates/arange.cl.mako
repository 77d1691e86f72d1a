<%page args="kname, ctype, acc_type, comment"/>
/* ${comment}
 * NumPy's arange fill: out[0] = first, out[1] = second, out[i] = first + i * delta in
 * ${acc_type} (the host computed the three from the exact bounds). */
__kernel void ${kname}(const long n, const ${ctype} first, const ${ctype} second,
                       const ${ctype} delta, __global ${ctype}* out)
{
    /* a fused multiply-add rounds once where NumPy rounds twice */
    #pragma OPENCL FP_CONTRACT OFF
    for (long i = get_global_id(0); i < n; i += get_global_size(0))
        out[i] = i == 0 ? first : (i == 1 ? second
                 : (${ctype})((${acc_type})first + (${acc_type})i * (${acc_type})delta));
}
