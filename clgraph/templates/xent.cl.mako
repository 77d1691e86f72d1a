<%page args="kname, ctype, ytype, kind, comment, bias=False"/>
<%doc>
  Softmax cross-entropy rows (lower/nnet.py XentStep), one work-item per row of the
  C-contiguous logits x (n_rows x L). kind:
    loss_labels  out[r] = log(sum(exp(x - m))) - (x[y[r]] - m)      (NaN: label out of range)
    loss_dense   out[r] = -sum(t[r] * ((x - m) - log(sum(exp(x - m)))))
    grad_labels  out[r] = g[r] * (softmax(x[r]) - onehot(y[r]))     (0: label out of range)
    grad_rows    out[r] = gz[r] - softmax(x[r]) * sum(gz[r])
    both_labels  loss_labels into out, grad_labels into dx, from one pass over the row
                 (with `bias`, the logits are x[r] + b: b added to every row)
  m is the row's maximum (0 when it is infinite), so no exp overflows.
</%doc>
/* ${comment} */
__kernel void ${kname}(const long n_rows, const long L, __global const ${ctype}* x,
                       const long x_off,
<% X = (lambda i: f"(xr[{i}] + b[b_off + {i} * b_s])") if bias else (lambda i: f"xr[{i}]") %>\
% if bias:
                       __global const ${ctype}* b, const long b_off, const long b_s,
% endif
% if kind in ("loss_labels", "grad_labels", "both_labels"):
                       __global const ${ytype}* y, const long y_off, const long y_s0,
% else:
                       __global const ${ctype}* t, const long t_off,
% endif
% if kind in ("grad_labels", "both_labels"):
                       __global const ${ctype}* g, const long g_off, const long g_s0,
% endif
% if kind == "both_labels":
                       __global ${ctype}* out, __global ${ctype}* dx)
% else:
                       __global ${ctype}* out)
% endif
{
    const long r = get_global_id(0);
    if (r >= n_rows) return;
    __global const ${ctype}* xr = x + x_off + r * L;
    ${ctype} m = -INFINITY;
    for (long i = 0; i < L; ++i) m = fmax(m, ${X("i")});
    if (isinf(m)) m = 0;
    ${ctype} s = 0;
% if kind in ("loss_labels", "loss_dense"):
    for (long i = 0; i < L; ++i) s += exp(${X("i")} - m);
% else:
    /* the exponentials go into the gradient's row (scaled below): one exp per element */
    __global ${ctype}* orow = ${"dx" if kind == "both_labels" else "out"} + r * L;
    for (long i = 0; i < L; ++i) {
        const ${ctype} e = exp(${X("i")} - m);
        s += e;
        orow[i] = e;
    }
% endif
% if kind in ("loss_labels", "grad_labels", "both_labels"):
    long c = (long)y[y_off + r * y_s0];
    if (c < 0) c += L;
    const int ok = c >= 0 && c < L;
% else:
    __global const ${ctype}* tr = t + t_off + r * L;
% endif
% if kind == "loss_labels":
    out[r] = ok ? log(s) - (xr[c] - m) : (${ctype})NAN;
% elif kind == "loss_dense":
    const ${ctype} ls = log(s);
    ${ctype} acc = 0;
    for (long i = 0; i < L; ++i) acc += tr[i] * ((xr[i] - m) - ls);
    out[r] = -acc;
% elif kind == "both_labels":
    out[r] = ok ? log(s) - (${X("c")} - m) : (${ctype})NAN;
    const ${ctype} gr = ok ? g[g_off + r * g_s0] : (${ctype})0;
    const ${ctype} scale = gr / s;
    for (long i = 0; i < L; ++i) orow[i] *= scale;
    if (ok) orow[c] -= gr;
% elif kind == "grad_labels":
    const ${ctype} gr = ok ? g[g_off + r * g_s0] : (${ctype})0;
    const ${ctype} scale = gr / s;
    for (long i = 0; i < L; ++i) orow[i] *= scale;
    if (ok) orow[c] -= gr;
% else:
    ${ctype} sg = 0;
    for (long i = 0; i < L; ++i) sg += tr[i];
    const ${ctype} scale = sg / s;
    for (long i = 0; i < L; ++i) orow[i] = tr[i] - orow[i] * scale;
% endif
}
