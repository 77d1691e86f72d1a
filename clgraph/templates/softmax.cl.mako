<%page args="kname, ctype, width, log, rows, comment"/>
<%
    W = width
    vt = ctype + (str(W) if W > 1 else "")
    def lanes(fn, v):
        if W == 1:
            return v
        out = f"{v}.s0"
        for e in range(1, W):
            out = f"{fn}({out}, {v}.s{e:x})" if fn else f"({out} + {v}.s{e:x})"
        return out
    def vload(p):
        return f"vload{W}(0, {p})" if W > 1 else f"({p})[0]"
    def vstore(v, p):
        return f"vstore{W}({v}, 0, {p});" if W > 1 else f"({p})[0] = {v};"
%>
/* ${comment}
 * ${'log-softmax' if log else 'softmax'} of each row: max, exp-sum and normalisation in one
 * work-item, the row staying in cache between the passes. */
% if rows:
__kernel void ${kname}(const long n_rows, const long L, __global const ${ctype}* x,
                       const long x_off, __global ${ctype}* out)
{
    const long r = get_global_id(0);
    if (r >= n_rows) return;
    __global const ${ctype}* xr = x + x_off + r * L;
    __global ${ctype}* orow = out + r * L;
    const long nv = L / ${W} * ${W};
    ${vt} mv = (${vt})(-INFINITY);
    for (long i = 0; i < nv; i += ${W}) mv = fmax(mv, ${vload("xr + i")});
    ${ctype} m = ${lanes("fmax", "mv")};
    for (long i = nv; i < L; ++i) m = fmax(m, xr[i]);
    if (isinf(m)) m = 0;
    ${vt} sv = (${vt})(0);
    for (long i = 0; i < nv; i += ${W}) {
        const ${vt} e = exp(${vload("xr + i")} - m);
        sv += e;
% if not log:
        ${vstore("e", "orow + i")}
% endif
    }
    ${ctype} s = ${lanes(None, "sv")};
    for (long i = nv; i < L; ++i) {
        const ${ctype} e = exp(xr[i] - m);
        s += e;
% if not log:
        orow[i] = e;
% endif
    }
% if log:
    const ${ctype} ls = log(s);
    for (long i = 0; i < nv; i += ${W}) ${vstore(f"(({vload('xr + i')} - m) - ls)", "orow + i")}
    for (long i = nv; i < L; ++i) orow[i] = (xr[i] - m) - ls;
% else:
    const ${ctype} inv = (${ctype})1 / s;
    for (long i = 0; i < nv; i += ${W}) ${vstore(f"{vload('orow + i')} * inv", "orow + i")}
    for (long i = nv; i < L; ++i) orow[i] *= inv;
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
