<%page args="kname, ctype, idx_ctype, comment"/>
<%doc>
Row gather: dst row r = src row idx[r], for an index array on x's first axis whose rows
(the output axes after it) are contiguous runs of row_len elements. One row per work-item
and a plain copy loop (vectorised by the compiler), where the element gather paid 64-bit
div/mod per element. An index outside [-len, len) zeroes its row and is reported in err
as by gather.cl.mako (err[0] the flag, err[1..3] the index, the length and 0).
</%doc>
/* ${comment} */
__kernel void ${kname}(
    const long n_rows, const long row_len,
    __global const ${ctype}* src, const long src_off, const long src_xs,
    __global const ${idx_ctype}* idx, const long idx_off, const long idx_len,
    __global ${ctype}* dst, const long dst_off,
    __global long* err)
{
    for (long row = get_global_id(0); row < n_rows; row += get_global_size(0)) {
        const long raw = (long)idx[idx_off + row];
        const long v = raw < 0 ? raw + idx_len : raw;
        __global ${ctype}* d = dst + dst_off + row * row_len;
        if (v < 0 || v >= idx_len) {
            if (atomic_cmpxchg((volatile __global int*)err, 0, 1) == 0) {
                err[1] = raw;
                err[2] = idx_len;
                err[3] = 0;
            }
            for (long i = 0; i < row_len; ++i) d[i] = (${ctype})0;
            continue;
        }
        __global const ${ctype}* s = src + src_off + v * src_xs;
        for (long i = 0; i < row_len; ++i) d[i] = s[i];
    }
}
