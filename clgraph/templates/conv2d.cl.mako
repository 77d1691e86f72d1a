<%page args="kname, ctype, kind, flip, comment"/>
/* ${comment} */
% if kind == "im2col":
/* cols[n, c*KH*KW + tap, p] = x[n, c, oy*SH + a*DH - PH, ox*SW + b*DW - PW] (0 outside),
 * tap = a*KW + b (flipped: (KH-1-a)*KW + KW-1-b). Work-item (p, n*C + c). */
__kernel void ${kname}(const long C, const long H, const long W, const long KH,
                       const long KW, const long OH, const long OW, const long PH,
                       const long PW, const long SH, const long SW, const long DH,
                       const long DW, const long planes, __global const ${ctype}* x,
                       const long x_off, __global ${ctype}* cols)
{
    const long p = get_global_id(0);
    const long nc = get_global_id(1);
    const long P = OH * OW;
    if (p >= P || nc >= planes) return;
    const long oy = p / OW, ox = p % OW;
    __global const ${ctype}* xp = x + x_off + nc * H * W;
    __global ${ctype}* cp = cols + nc * KH * KW * P + p;
    for (long a = 0; a < KH; ++a) {
        const long iy = oy * SH + a * DH - PH;
        const int row_ok = iy >= 0 && iy < H;
        for (long b = 0; b < KW; ++b) {
            const long ix = ox * SW + b * DW - PW;
% if flip:
            const long tap = (KH - 1 - a) * KW + (KW - 1 - b);
% else:
            const long tap = a * KW + b;
% endif
            cp[tap * P] = (row_ok && ix >= 0 && ix < W) ? xp[iy * W + ix] : (${ctype})0;
        }
    }
}
% else:
/* x[n, c, y, x] = sum over taps (a, b) and outputs (oy, ox) that read it of
 * cols[n, c*KH*KW + tap, oy*OW + ox]: a gather, so no two work-items write one place.
 * Work-item (y*W + x, n*C + c). */
__kernel void ${kname}(const long C, const long H, const long W, const long KH,
                       const long KW, const long OH, const long OW, const long PH,
                       const long PW, const long SH, const long SW, const long DH,
                       const long DW, const long planes, __global const ${ctype}* cols,
                       const long cols_off, __global ${ctype}* x)
{
    const long q = get_global_id(0);
    const long nc = get_global_id(1);
    if (q >= H * W || nc >= planes) return;
    const long iy = q / W, ix = q % W;
    const long P = OH * OW;
    __global const ${ctype}* cp = cols + cols_off + nc * KH * KW * P;
    ${ctype} acc = 0;
    for (long a = 0; a < KH; ++a) {
        const long ty = iy + PH - a * DH;
        if (ty < 0 || ty % SH) continue;
        const long oy = ty / SH;
        if (oy >= OH) continue;
        for (long b = 0; b < KW; ++b) {
            const long tx = ix + PW - b * DW;
            if (tx < 0 || tx % SW) continue;
            const long ox = tx / SW;
            if (ox >= OW) continue;
% if flip:
            const long tap = (KH - 1 - a) * KW + (KW - 1 - b);
% else:
            const long tap = a * KW + b;
% endif
            acc += cp[tap * P + oy * OW + ox];
        }
    }
    x[nc * H * W + q] = acc;
}
% endif
