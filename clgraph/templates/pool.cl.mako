<%page args="kname, ctype, mode, grad, comment"/>
/* ${comment}
 * ${mode} pooling over the last two axes (planes x H x W, contiguous); window r covers
 * padded rows [r*S, min(r*S + WS, H + 2P)), clipped to the image except for the divisor of
 * average_inc_pad. ${"Gradient: each input pixel gathers from the windows that hold it." if grad else ""} */
<%def name="window(r, n, ws, st, pad, s, e, len)">
        long ${s} = ${r} * ${st};
        long ${e} = min(${s} + ${ws}, ${n} + 2 * ${pad});
        const long ${len}_inc = ${e} - ${s};
        ${s} = max(${s}, ${pad}) - ${pad};
        ${e} = min(${e}, ${n} + ${pad}) - ${pad};
% if mode == "average_inc_pad":
        const long ${len} = ${len}_inc;
% else:
        const long ${len} = ${e} - ${s};
% endif
</%def>
% if not grad:
__kernel void ${kname}(const long planes, const long H, const long W, const long OH,
                       const long OW, const long WH, const long WW, const long SH,
                       const long SW, const long PH, const long PW,
                       __global const ${ctype}* x, const long x_off, __global ${ctype}* out)
{
    const long q = get_global_id(0);
    const long pl = get_global_id(1);
    if (q >= OH * OW || pl >= planes) return;
    const long r = q / OW, c = q % OW;
    __global const ${ctype}* xp = x + x_off + pl * H * W;
    ${window("r", "H", "WH", "SH", "PH", "r0", "r1", "lr")}
    ${window("c", "W", "WW", "SW", "PW", "c0", "c1", "lc")}
% if mode == "max":
    ${ctype} acc = -INFINITY;
    for (long i = r0; i < r1; ++i)
        for (long j = c0; j < c1; ++j) acc = fmax(acc, xp[i * W + j]);
    if (r1 <= r0 || c1 <= c0) acc = 0;
% else:
    ${ctype} acc = 0;
    for (long i = r0; i < r1; ++i)
        for (long j = c0; j < c1; ++j) acc += xp[i * W + j];
%   if mode != "sum":
    acc /= (${ctype})max(lr * lc, 1L);
%   endif
% endif
    out[pl * OH * OW + q] = acc;
}
% else:
__kernel void ${kname}(const long planes, const long H, const long W, const long OH,
                       const long OW, const long WH, const long WW, const long SH,
                       const long SW, const long PH, const long PW,
                       __global const ${ctype}* x, const long x_off,
                       __global const ${ctype}* z, const long z_off,
                       __global const ${ctype}* gz, const long gz_off, __global ${ctype}* gx)
{
    const long q = get_global_id(0);
    const long pl = get_global_id(1);
    if (q >= H * W || pl >= planes) return;
    const long i = q / W, j = q % W;
% if mode == "max":
    const ${ctype} xv = x[x_off + pl * H * W + q];
% endif
    __global const ${ctype}* zp = z + z_off + pl * OH * OW;
    __global const ${ctype}* gp = gz + gz_off + pl * OH * OW;
    /* Windows r with r*SH <= i + PH < r*SH + WH. */
    const long rlo = max(0L, (i + PH - WH + SH) / SH), rhi = min(OH - 1, (i + PH) / SH);
    const long clo = max(0L, (j + PW - WW + SW) / SW), chi = min(OW - 1, (j + PW) / SW);
    ${ctype} acc = 0;
    for (long r = rlo; r <= rhi; ++r) {
        ${window("r", "H", "WH", "SH", "PH", "r0", "r1", "lr")}
        if (i < r0 || i >= r1) continue;
        for (long c = clo; c <= chi; ++c) {
            ${window("c", "W", "WW", "SW", "PW", "c0", "c1", "lc")}
            if (j < c0 || j >= c1) continue;
% if mode == "max":
            if (xv == zp[r * OW + c]) acc += gp[r * OW + c];
% elif mode == "sum":
            acc += gp[r * OW + c];
% else:
            acc += gp[r * OW + c] / (${ctype})max(lr * lc, 1L);
% endif
        }
    }
    gx[pl * H * W + q] = acc;
}
% endif
