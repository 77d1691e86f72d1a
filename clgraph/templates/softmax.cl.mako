<%page args="kname, ctype, width, log, rows, comment, preamble, vld, vst, group=0"/>\
<%
    W = width
    vt = ctype + (str(W) if W > 1 else "")
    def fold(fn, v):
        """Lines folding vector register v into scalar register `r` (halves, as reduce.py)."""
        if W == 1:
            return f"{ctype} r_{v} = {v};"
        out, cur, w = [], v, W
        while w > 1:
            w //= 2
            t = ctype + (str(w) if w > 1 else "")
            expr = f"{fn}({cur}.lo, {cur}.hi)" if fn else f"{cur}.lo + {cur}.hi"
            out.append(f"const {t} {v}{w} = {expr};")
            cur = f"{v}{w}"
        out.append(f"{ctype} r_{v} = {cur};")
        return " ".join(out)
%>\
${preamble}\
/* ${comment}
 * ${'log-softmax' if log else 'softmax'} of each row: max, exp-sum and normalisation, the row
 * staying in cache between the passes. */
% if group:
/* One work-group of ${group} per row (GPUs): the items read the row in coalesced strides;
 * the max and the exp-sum are trees in local memory; exp is recomputed in the last pass
 * (the row is in cache) rather than stored and read back. */
__kernel __attribute__((reqd_work_group_size(${group}, 1, 1)))
void ${kname}(const long n_rows, const long L, __global const ${ctype}* x, const long x_off,
              __global ${ctype}* out)
{
    __local ${ctype} tree[${group}];
    const int t = get_local_id(0);
    __global const ${ctype}* xr = x + x_off + get_group_id(0) * L;
    __global ${ctype}* orow = out + get_group_id(0) * L;
    ${ctype} m = -INFINITY;
    for (long i = t; i < L; i += ${group}) m = fmax(m, xr[i]);
    tree[t] = m;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = ${group // 2}; h > 0; h >>= 1) {
        if (t < h) tree[t] = fmax(tree[t], tree[t + h]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    m = tree[0];
    if (isinf(m)) m = 0;
    barrier(CLK_LOCAL_MEM_FENCE);  /* every item has read the max before the tree is reused */
    ${ctype} s = 0;
    for (long i = t; i < L; i += ${group}) s += exp(xr[i] - m);
    tree[t] = s;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = ${group // 2}; h > 0; h >>= 1) {
        if (t < h) tree[t] += tree[t + h];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    s = tree[0];
% if log:
    const ${ctype} ls = log(s);
    for (long i = t; i < L; i += ${group}) orow[i] = (xr[i] - m) - ls;
% else:
    const ${ctype} inv = (${ctype})1 / s;
    for (long i = t; i < L; i += ${group}) orow[i] = exp(xr[i] - m) * inv;
% endif
}
% elif rows:
/* Vectors of ${W}: four max accumulators and two sums (independent chains); the sum pass
 * stores exp(x - m), which the last pass scales (exp is computed once per element). */
__kernel void ${kname}(const long n_rows, const long L, __global const ${ctype}* x,
                       const long x_off, __global ${ctype}* out)
{
    const long r = get_global_id(0);
    if (r >= n_rows) return;
    __global const ${ctype}* xr = x + x_off + r * L;
    __global ${ctype}* orow = out + r * L;
    const long nv = L / ${W} * ${W};
    const long nv4 = L / ${4 * W} * ${4 * W};
    ${vt} m0 = (${vt})(-INFINITY), m1 = m0, m2 = m0, m3 = m0;
    long i = 0;
    /* `a > b ? a : b` (one maxps on x86; fmax is slower): a NaN may be dropped here, but
       the exp pass below still makes its row NaN. */
    for (; i < nv4; i += ${4 * W}) {
% for k in range(4):
        const ${vt} v${k} = ${vld(f"xr + i + {k * W}" if k else "xr + i")};
% endfor
% for k in range(4):
        m${k} = m${k} > v${k} ? m${k} : v${k};
% endfor
    }
    for (; i < nv; i += ${W}) m0 = fmax(m0, ${vld("xr + i")});
    m0 = fmax(fmax(m0, m1), fmax(m2, m3));
    ${fold("fmax", "m0")}
    ${ctype} m = r_m0;
    CLG_TAIL_LOOP
    for (; i < L; ++i) m = fmax(m, xr[i]);
    if (isinf(m)) m = 0;
    ${vt} s0 = (${vt})(0), s1 = s0;
    const long nv2 = L / ${2 * W} * ${2 * W};
    for (i = 0; i < nv2; i += ${2 * W}) {
        const ${vt} e0 = exp(${vld("xr + i")} - m);
        const ${vt} e1 = exp(${vld(f"xr + i + {W}")} - m);
        s0 += e0;
        s1 += e1;
% if not log:
        ${vst("e0", "orow + i")}
        ${vst("e1", f"orow + i + {W}")}
% endif
    }
    for (; i < nv; i += ${W}) {
        const ${vt} e0 = exp(${vld("xr + i")} - m);
        s0 += e0;
% if not log:
        ${vst("e0", "orow + i")}
% endif
    }
    s0 += s1;
    ${fold(None, "s0")}
    ${ctype} s = r_s0;
    CLG_TAIL_LOOP
    for (; i < L; ++i) {
        const ${ctype} e = exp(xr[i] - m);
        s += e;
% if not log:
        orow[i] = e;
% endif
    }
% if log:
    const ${ctype} ls = log(s);
    for (i = 0; i < nv; i += ${W}) ${vst(f"(({vld('xr + i')} - m) - ls)", "orow + i")}
    CLG_TAIL_LOOP
    for (; i < L; ++i) orow[i] = (xr[i] - m) - ls;
% else:
    const ${ctype} inv = (${ctype})1 / s;
    for (i = 0; i < nv; i += ${W}) ${vst(f"{vld('orow + i')} * inv", "orow + i")}
    CLG_TAIL_LOOP
    for (; i < L; ++i) orow[i] *= inv;
% endif
}
% else:
/* Along an axis that is not the innermost: work-item (i, o) walks x[o, :, i]. */
__kernel void ${kname}(const long n_outer, const long L, const long inner,
                       __global const ${ctype}* x, const long x_off, __global ${ctype}* out)
{
    const long i = get_global_id(0);
    const long o = get_global_id(1);
    if (i >= inner || o >= n_outer) return;
    const long base = o * L * inner + i;
    __global const ${ctype}* xr = x + x_off + base;
    __global ${ctype}* orow = out + base;
    ${ctype} m = -INFINITY;
    for (long l = 0; l < L; ++l) m = fmax(m, xr[l * inner]);
    if (isinf(m)) m = 0;
    ${ctype} s = 0;
    for (long l = 0; l < L; ++l) s += exp(xr[l * inner] - m);
% if log:
    const ${ctype} ls = log(s);
    for (long l = 0; l < L; ++l) orow[l * inner] = (xr[l * inner] - m) - ls;
% else:
    const ${ctype} inv = (${ctype})1 / s;
    for (long l = 0; l < L; ++l) orow[l * inner] = exp(xr[l * inner] - m) * inv;
% endif
}
% endif
