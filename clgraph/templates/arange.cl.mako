<%page args="kname, ctype, acc_type, comment"/>
/* ${comment}
 * out[i] = start + i * step, computed in ${acc_type}. */
__kernel void ${kname}(const long n, const ${acc_type} start, const ${acc_type} step,
                       __global ${ctype}* out)
{
    for (long i = get_global_id(0); i < n; i += get_global_size(0))
        out[i] = (${ctype})(start + (${acc_type})i * step);
}
