<%page args="kname, xtype, ytype, grad, comment"/>
/* ${comment} */
% if not grad:
/* out[r] = x[r, y[r]]; a label outside [-n_cols, n_cols) gives NaN. */
__kernel void ${kname}(const long n_rows, const long n_cols,
                       __global const ${xtype}* x, const long x_off, const long x_s0,
                       const long x_s1, __global const ${ytype}* y, const long y_off,
                       const long y_s0, __global ${xtype}* out)
{
    const long r = get_global_id(0);
    if (r >= n_rows) return;
    long c = (long)y[y_off + r * y_s0];
    if (c < 0) c += n_cols;
    out[r] = (c >= 0 && c < n_cols) ? x[x_off + r * x_s0 + c * x_s1] : (${xtype})NAN;
}
% else:
/* out[r, :] = 0 except out[r, y[r]] = g[r]. */
__kernel void ${kname}(const long n_rows, const long n_cols,
                       __global const ${xtype}* g, const long g_off, const long g_s0,
                       __global const ${ytype}* y, const long y_off, const long y_s0,
                       __global ${xtype}* out)
{
    const long r = get_global_id(0);
    if (r >= n_rows) return;
    long c = (long)y[y_off + r * y_s0];
    if (c < 0) c += n_cols;
    __global ${xtype}* orow = out + r * n_cols;
    for (long j = 0; j < n_cols; ++j) orow[j] = 0;
    if (c >= 0 && c < n_cols) orow[c] = g[g_off + r * g_s0];
}
% endif
