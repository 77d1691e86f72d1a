<%page args="kname, ctype, acc, load, ndim, lsize"/>
/* NanGuardMode: OR of flags over a (strided) tensor, reduced in local memory, one atomic
 * per work-group. Flags: 1 NaN, 2 Inf, 4 |x| > big. */
__kernel void ${kname}(
    __global const ${ctype}* x,
    const long off,
    const long n,
% for d in range(ndim):
    const long n${d},
    const long s${d},
% endfor
    const ${acc} big,
    __global int* flags,
    const int slot)
{
    __local int lflags[${lsize}];
    const int lid = get_local_id(0);
    int f = 0;
    for (long i = get_global_id(0); i < n; i += get_global_size(0)) {
        long p = off;
% if ndim:
        long r = i;
% endif
% for d in reversed(range(ndim)):
        p += (r % n${d}) * s${d};
        r /= n${d};
% endfor
        const ${acc} v = (${acc})(${load});
        if (isnan(v)) f |= 1;
        else if (isinf(v)) f |= 2;
        else if (fabs(v) > big) f |= 4;
    }
    lflags[lid] = f;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int s = ${lsize} / 2; s > 0; s >>= 1) {
        if (lid < s) lflags[lid] |= lflags[lid + s];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0 && lflags[0]) atomic_or(flags + slot, lflags[0]);
}
