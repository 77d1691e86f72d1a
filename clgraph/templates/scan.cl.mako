<%page args="kname, in_ctype, ctype, op, combine, comment"/>
<%doc>
Inclusive scan (op: '+' or '*'; combine(a, b) writes it, wrapping for signed integers) along the middle axis of a contiguous (outer, n, inner)
array; a line is one (outer, inner) pair, element j of a line at o*n*inner + j*inner + i.
Each line is cut into c chunks of `chunk` elements. Phase 1 scans every chunk on its own
work-item and writes the chunk's total to tmp; phase 2 turns each line's totals into
exclusive prefixes (one work-item a line); phase 3 folds the prefix into the chunks after
the first. With one chunk a line, phase 1 alone is the scan.
</%doc>
/* ${comment} */
<% ident = "0" if op == "+" else "1" %>
__kernel void ${kname}_chunks(const long lines, const long n, const long inner,
                              const long c, const long chunk,
                              __global const ${in_ctype}* x, const long x_off,
                              __global ${ctype}* out, __global ${ctype}* tmp)
{
    for (long g = get_global_id(0); g < lines * c; g += get_global_size(0)) {
        const long line = g / c, k = g % c;
        const long o = line / inner, i = line % inner;
        const long base = o * n * inner + i;
        const long lo = k * chunk, hi = min(n, lo + chunk);
        ${ctype} acc = (${ctype})${ident};
        for (long j = lo; j < hi; ++j) {
            acc = ${combine("acc", f"(({ctype})x[x_off + base + j * inner])")};
            out[base + j * inner] = acc;
        }
        tmp[g] = acc;
    }
}

__kernel void ${kname}_totals(const long lines, const long c, __global ${ctype}* tmp)
{
    for (long line = get_global_id(0); line < lines; line += get_global_size(0)) {
        ${ctype} acc = (${ctype})${ident};
        for (long k = 0; k < c; ++k) {
            const ${ctype} t = tmp[line * c + k];
            tmp[line * c + k] = acc;
            acc = ${combine("acc", "t")};
        }
    }
}

__kernel void ${kname}_fold(const long lines, const long n, const long inner,
                            const long c, const long chunk,
                            __global ${ctype}* out, __global const ${ctype}* tmp)
{
    for (long g = get_global_id(0); g < lines * c; g += get_global_size(0)) {
        const long line = g / c, k = g % c;
        if (k == 0) continue;
        const long o = line / inner, i = line % inner;
        const long base = o * n * inner + i;
        const long lo = k * chunk, hi = min(n, lo + chunk);
        const ${ctype} pre = tmp[g];
        for (long j = lo; j < hi; ++j)
            out[base + j * inner] = ${combine("pre", "out[base + j * inner]")};
    }
}
