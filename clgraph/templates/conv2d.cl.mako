<%page args="kname, ctype, kind, flip, sh, sw, dh, dw, rows, comment"/>
/* ${comment} */
/* Strides and dilations are compile-time constants (SH=${sh}, SW=${sw}, DH=${dh}, DW=${dw}):
 * with SW == 1 the inner loops are plain contiguous copies / adds. CPU form: a work-item per
 * (channel, image) plane, indices decomposed once; elsewhere one output per work-item. */
<%def name="tap()">
    /* input offset (a, b) of filter tap (ta, tb)${", flipped" if flip else ""} */
% if flip:
    const int a = KH - 1 - ta, b = KW - 1 - tb;
% else:
    const int a = ta, b = tb;
% endif
</%def>\
<%def name="ox_range()">
        /* the outputs ox whose input column ox*SW + xo lies in [0, W) */
        const int xo = b * ${dw} - PW;
        const int lo = min(OW, xo >= 0 ? 0 : (${sw} - 1 - xo) / ${sw});
        const int hi = max(lo, min(OW, W - 1 - xo < 0 ? 0 : (W - 1 - xo) / ${sw} + 1));
</%def>\
% if kind == "im2col":
/* cols[n*SN + k*SK + oy*OW + ox] = x[n, c, oy*SH + a*DH - PH, ox*SW + b*DW - PW] (0 outside),
 * k = c*KH*KW + ta*KW + tb: SN, SK choose the layout ((N, K, P) or (K, N, P), P = OH*OW). */
__kernel void ${kname}(const int C, const int H, const int W, const int KH, const int KW,
                       const int OH, const int OW, const int PH, const int PW, const int K,
                       const int N, const long SN, const long SK,
                       __global const ${ctype}* restrict x, const long x_off,
                       __global ${ctype}* restrict cols)
{
%   if rows:
    /* Work-item (c, n) writes the KH*KW planes of input channel c of image n. */
    const int c = get_global_id(0), n = get_global_id(1);
    if (c >= C || n >= N) return;
    __global const ${ctype}* xp = x + x_off + ((long)n * C + c) * H * W;
    for (int ta = 0; ta < KH; ++ta) {
        for (int tb = 0; tb < KW; ++tb) {
            ${tap()}
            __global ${ctype}* cp = cols + n * SN + (c * KH * KW + ta * KW + tb) * SK;
            ${ox_range()}
            for (int oy = 0; oy < OH; ++oy) {
                const int iy = oy * ${sh} + a * ${dh} - PH;
                __global ${ctype}* out = cp + oy * OW;
                if (iy < 0 || iy >= H) {
                    for (int ox = 0; ox < OW; ++ox) out[ox] = 0;
                    continue;
                }
                const int base = iy * W + xo;
                for (int ox = 0; ox < lo; ++ox) out[ox] = 0;
                for (int ox = lo; ox < hi; ++ox) out[ox] = xp[base + ox * ${sw}];
                for (int ox = hi; ox < OW; ++ox) out[ox] = 0;
            }
        }
    }
%   else:
    /* Work-item (p, k, n): one output. */
    const int p = get_global_id(0), k = get_global_id(1), n = get_global_id(2);
    if (p >= OH * OW || k >= K || n >= N) return;
    const int c = k / (KH * KW), t = k - c * (KH * KW);
    const int ta = t / KW, tb = t - ta * KW;
    ${tap()}
    const int oy = p / OW, ox = p - oy * OW;
    const int iy = oy * ${sh} + a * ${dh} - PH, ix = ox * ${sw} + b * ${dw} - PW;
    cols[n * SN + k * SK + p] = (iy >= 0 && iy < H && ix >= 0 && ix < W)
        ? x[x_off + ((long)n * C + c) * H * W + iy * W + ix] : (${ctype})0;
%   endif
}
% else:
/* x[n, c, y, x] = sum over taps (a, b) and outputs (oy, ox) that read it of
 * cols[n*SN + (c*KH*KW + tap)*SK + oy*OW + ox]: a gather, so no two work-items write one
 * place (no atomics). Taps are added in the same order in both forms. */
__kernel void ${kname}(const int C, const int H, const int W, const int KH, const int KW,
                       const int OH, const int OW, const int PH, const int PW, const int K,
                       const int N, const long SN, const long SK,
                       __global const ${ctype}* restrict cols, const long cols_off,
                       __global ${ctype}* restrict x)
{
%   if rows:
    /* Work-item (c, n) sums one input plane, tap by tap: each tap adds a shifted copy of
     * its (OH, OW) cols plane. */
    const int c = get_global_id(0), n = get_global_id(1);
    if (c >= C || n >= N) return;
    __global ${ctype}* plane = x + ((long)n * C + c) * H * W;
    for (int i = 0; i < H * W; ++i) plane[i] = 0;
    __global const ${ctype}* cp = cols + cols_off + n * SN + (long)c * KH * KW * SK;
    for (int ta = 0; ta < KH; ++ta) {
        for (int tb = 0; tb < KW; ++tb) {
            ${tap()}
            ${ox_range()}
            __global const ${ctype}* src = cp + (ta * KW + tb) * SK;
            for (int oy = 0; oy < OH; ++oy) {
                const int y = oy * ${sh} + a * ${dh} - PH;
                if (y < 0 || y >= H) continue;
                __global ${ctype}* row = plane + y * W + xo;
                __global const ${ctype}* s = src + oy * OW;
                for (int ox = lo; ox < hi; ++ox) row[ox * ${sw}] += s[ox];
            }
        }
    }
%   else:
    /* Work-item (y*W + x, c, n): one input pixel. */
    const int q = get_global_id(0), c = get_global_id(1), n = get_global_id(2);
    if (q >= H * W || c >= C || n >= N) return;
    const int iy = q / W, ix = q - iy * W;
    __global const ${ctype}* cp = cols + cols_off + n * SN + (long)c * KH * KW * SK;
    ${ctype} acc = 0;
    for (int ta = 0; ta < KH; ++ta) {
        for (int tb = 0; tb < KW; ++tb) {
            ${tap()}
            const int ty = iy + PH - a * ${dh}, tx = ix + PW - b * ${dw};
            if (ty < 0 || tx < 0 || ty % ${sh} || tx % ${sw}) continue;
            const int oy = ty / ${sh}, ox = tx / ${sw};
            if (oy >= OH || ox >= OW) continue;
            acc += cp[(ta * KW + tb) * SK + oy * OW + ox];
        }
    }
    x[((long)n * C + c) * H * W + q] = acc;
%   endif
}
% endif
