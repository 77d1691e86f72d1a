<%page args="kname, ctype, mode, grad, ws, st, pad, disjoint, full, tiled, rows, comment, pick=False"/>
/* ${comment}
 * ${mode} pooling over the last two axes (planes x H x W, contiguous); window r covers
 * padded rows [r*S, min(r*S + WS, H + 2P)), clipped to the image except for the divisor of
 * average_inc_pad. Window ${ws}, stride ${st}, padding ${pad} are compile-time constants.
% if pick:
 * Gradient of max pooling's gradient (and its forward derivative): each window sums gg over
 * the pixels that hold its maximum.
% elif grad:
 * Gradient: each input pixel gathers from the windows that hold it (no atomics).
% endif
 */
<%
    WH, WW = ws
    SH, SW = st
    PH, PW = pad
%>
/* fmax without the call: a NaN input is skipped, as by fmax */
#define MAX_NAN_IGNORED(acc, v) ((v) > (acc) ? (v) : (acc))
<%def name="window(r, n, w, s, p, lo, hi, len)">
        int ${lo} = ${r} * ${s};
        int ${hi} = min(${lo} + ${w}, ${n} + 2 * ${p});
        const int ${len}_inc = ${hi} - ${lo};
        ${lo} = max(${lo}, ${p}) - ${p};
        ${hi} = min(${hi}, ${n} + ${p}) - ${p};
% if mode == "average_inc_pad":
        const int ${len} = ${len}_inc;
% else:
        const int ${len} = ${hi} - ${lo};
% endif
</%def>\
<%def name="pool_one()">
        ${window("c", "W", WW, SW, PW, "c0", "c1", "lc")}
% if mode == "max":
        ${ctype} acc = -INFINITY;
        for (int i = r0; i < r1; ++i)
            for (int j = c0; j < c1; ++j) acc = MAX_NAN_IGNORED(acc, xp[i * W + j]);
        if (r1 <= r0 || c1 <= c0) acc = 0;
% else:
        ${ctype} acc = 0;
        for (int i = r0; i < r1; ++i)
            for (int j = c0; j < c1; ++j) acc += xp[i * W + j];
%   if mode != "sum":
        acc /= (${ctype})max(lr * lc, 1);
%   endif
% endif
</%def>\
<%def name="term(r, c)">\
% if mode == "max":
(xv == zp[${r} * OW + ${c}] ? gp[${r} * OW + ${c}] : (${ctype})0)\
% elif mode == "sum":
gp[${r} * OW + ${c}]\
% else:
gp[${r} * OW + ${c}] / (${ctype})max(lr * lc, 1)\
% endif
</%def>\
<%def name="grad_one()">
% if mode == "max":
        const ${ctype} xv = xp[j];
% endif
% if disjoint:
        /* stride >= window: at most one window (r, c) holds pixel (i, j) */
        const int c = (j + ${PW}) / ${SW};
        ${ctype} acc = 0;
        if (r_ok && c < OW && j + ${PW} - c * ${SW} < ${WW}) {
%   if mode.startswith("average"):
            ${window("c", "W", WW, SW, PW, "c0", "c1", "lc")}
%   endif
            acc = ${term("r", "c")};
        }
% else:
        /* windows c with c*SW <= j + PW < c*SW + WW */
        const int clo = max(0, (j + ${PW} - ${WW} + ${SW}) / ${SW});
        const int chi = min(OW - 1, (j + ${PW}) / ${SW});
        ${ctype} acc = 0;
        for (int r = rlo; r <= rhi; ++r) {
            ${window("r", "H", WH, SH, PH, "r0", "r1", "lr")}
            if (i < r0 || i >= r1) continue;
            for (int c = clo; c <= chi; ++c) {
                ${window("c", "W", WW, SW, PW, "c0", "c1", "lc")}
                if (j < c0 || j >= c1) continue;
                acc += ${term("r", "c")};
            }
        }
% endif
</%def>\
<%def name="grad_row_setup()">
% if disjoint:
    const int r = (i + ${PH}) / ${SH};
    const int r_ok = r < OH && i + ${PH} - r * ${SH} < ${WH};
%   if mode.startswith("average"):
    ${window("r", "H", WH, SH, PH, "r0", "r1", "lr")}
%   endif
% else:
    /* windows r with r*SH <= i + PH < r*SH + WH */
    const int rlo = max(0, (i + ${PH} - ${WH} + ${SH}) / ${SH});
    const int rhi = min(OH - 1, (i + ${PH}) / ${SH});
% endif
</%def>\
% if pick:
__kernel void ${kname}(const long planes, const int H, const int W, const int OH,
                       const int OW, __global const ${ctype}* restrict x, const long x_off,
                       __global const ${ctype}* restrict z, const long z_off,
                       __global const ${ctype}* restrict gg, const long gg_off,
                       __global ${ctype}* restrict out)
{
%   if rows:
    /* Work-item (r, plane): one output row. */
    const int r = get_global_id(0);
    const long pl = get_global_id(1);
    if (r >= OH || pl >= planes) return;
    const int c_first = 0, c_end = OW;
%   else:
    /* Work-item (r*OW + c, plane): one output. */
    const int q = get_global_id(0);
    const long pl = get_global_id(1);
    if (q >= OH * OW || pl >= planes) return;
    const int r = q / OW, c_first = q - r * OW, c_end = c_first + 1;
%   endif
    __global const ${ctype}* xp = x + x_off + pl * H * W;
    __global const ${ctype}* gp = gg + gg_off + pl * H * W;
    __global const ${ctype}* zr = z + z_off + pl * OH * OW + r * OW;
    __global ${ctype}* outr = out + pl * OH * OW + r * OW;
    ${window("r", "H", WH, SH, PH, "r0", "r1", "lr")}
    for (int c = c_first; c < c_end; ++c) {
        ${window("c", "W", WW, SW, PW, "c0", "c1", "lc")}
        const ${ctype} zv = zr[c];
        ${ctype} acc = 0;
        for (int i = r0; i < r1; ++i)
            for (int j = c0; j < c1; ++j)
                if (xp[i * W + j] == zv) acc += gp[i * W + j];
        outr[c] = acc;
    }
}
% elif not grad:
__kernel void ${kname}(const long planes, const int H, const int W, const int OH,
                       const int OW, __global const ${ctype}* restrict x, const long x_off,
                       __global ${ctype}* restrict out)
{
%   if rows:
    /* Work-item (r, plane): one output row. */
    const int r = get_global_id(0);
    const long pl = get_global_id(1);
    if (r >= OH || pl >= planes) return;
    __global const ${ctype}* xp = x + x_off + pl * H * W;
    __global ${ctype}* op = out + pl * OH * OW + r * OW;
%     if full:
    /* every window lies inside the image (ignore_border, no padding): constant bounds */
    __global const ${ctype}* rp = xp + r * ${SH} * W;
    for (int c = 0; c < OW; ++c) {
        __global const ${ctype}* wp = rp + c * ${SW};
%       if mode == "max":
        ${ctype} acc = -INFINITY;
%       else:
        ${ctype} acc = 0;
%       endif
%       for i in range(WH):
%         for j in range(WW):
%           if mode == "max":
        acc = MAX_NAN_IGNORED(acc, wp[${i} * W + ${j}]);
%           else:
        acc += wp[${i} * W + ${j}];
%           endif
%         endfor
%       endfor
%       if mode.startswith("average"):
        acc /= (${ctype})${WH * WW};
%       endif
        op[c] = acc;
    }
%     else:
    ${window("r", "H", WH, SH, PH, "r0", "r1", "lr")}
    for (int c = 0; c < OW; ++c) {
        ${pool_one()}
        op[c] = acc;
    }
%     endif
%   else:
    /* Work-item (r*OW + c, plane): one output. */
    const int q = get_global_id(0);
    const long pl = get_global_id(1);
    if (q >= OH * OW || pl >= planes) return;
    const int r = q / OW, c = q - r * OW;
    __global const ${ctype}* xp = x + x_off + pl * H * W;
    ${window("r", "H", WH, SH, PH, "r0", "r1", "lr")}
    {
        ${pool_one()}
        out[pl * OH * OW + q] = acc;
    }
%   endif
}
% else:
__kernel void ${kname}(const long planes, const int H, const int W, const int OH,
                       const int OW, __global const ${ctype}* restrict x, const long x_off,
                       __global const ${ctype}* restrict z, const long z_off,
                       __global const ${ctype}* restrict gz, const long gz_off,
                       __global ${ctype}* restrict gx)
{
%   if rows:
    /* Work-item (i, plane): one input row. */
    const int i = get_global_id(0);
    const long pl = get_global_id(1);
    if (i >= H || pl >= planes) return;
%   else:
    /* Work-item (i*W + j, plane): one input pixel. */
    const int q = get_global_id(0);
    const long pl = get_global_id(1);
    if (q >= H * W || pl >= planes) return;
    const int i = q / W, j = q - i * W;
%   endif
    __global const ${ctype}* xp = x + x_off + pl * H * W + i * W;
    __global const ${ctype}* zp = z + z_off + pl * OH * OW;
    __global const ${ctype}* gp = gz + gz_off + pl * OH * OW;
    __global ${ctype}* gxp = gx + pl * H * W + i * W;
    ${grad_row_setup()}
%   if rows and disjoint:
    /* stride >= window: each window writes its own pixels; the rest get 0 */
%     if not tiled:
    for (int j = 0; j < W; ++j) gxp[j] = 0;
%     endif
    if (!r_ok) {
%     if tiled:
        for (int j = 0; j < W; ++j) gxp[j] = 0;
%     endif
        return;
    }
    __global const ${ctype}* zr = zp + r * OW;
    __global const ${ctype}* gr = gp + r * OW;
    for (int c = 0; c < OW; ++c) {
%     if mode.startswith("average"):
        ${window("c", "W", WW, SW, PW, "c0", "c1", "lc")}
%     endif
%     if mode == "max":
        const ${ctype} zv = zr[c], gv = gr[c];
%     elif mode == "sum":
        const ${ctype} gv = gr[c];
%     else:
        const ${ctype} gv = gr[c] / (${ctype})max(lr * lc, 1);
%     endif
        const int j0 = c * ${SW} - ${PW};
%     for jj in range(WW):
%       if tiled:
        {
            const int j = j0 + ${jj};
%       else:
        if (j0 + ${jj} >= 0 && j0 + ${jj} < W) {
            const int j = j0 + ${jj};
%       endif
%       if mode == "max":
            gxp[j] = xp[j] == zv ? gv : (${ctype})0;
%       else:
            gxp[j] = gv;
%       endif
        }
%     endfor
    }
%     if tiled:
    for (int j = OW * ${SW}; j < W; ++j) gxp[j] = 0;  /* columns past the last window */
%     endif
%   elif rows:
    for (int j = 0; j < W; ++j) {
        ${grad_one()}
        gxp[j] = acc;
    }
%   else:
    {
        ${grad_one()}
        gxp[j] = acc;
    }
%   endif
}
% endif
