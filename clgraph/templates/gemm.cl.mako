<%page args="kname, comment, a_type, b_type, c_type, vec_type, width, rows, vecs, lanes, a_cast, b_cast, logical"/>\
<%doc>
  Register-blocked GEMM: C (M x N) = A (M x K) . B (K x N).

  kname     generated kernel name
  comment   sanitised description of the node
  a_type, b_type, c_type   OpenCL element types of A, B and C (C is also the accumulator type)
  vec_type  c_type as a vector of `width` lanes: one accumulator holds `width` columns of a row
  width     lanes per vector
  rows      tile rows per work-item: [0, 1, .. TM-1]
  vecs      accumulator vectors per tile row: [0, .. NV-1]; the tile is TM x (NV * width)
  lanes     [(vector index, column in the tile)] for every tile column
  a_cast, b_cast   conversion of one A or B element to c_type: "(double)", or "" if none
  logical   bool product: accumulate with | and & (operands are 0 or 1)
</%doc>\
<%
  tm = len(rows)
  tn = len(lanes)
  update = "{acc} |= {x} & {y};" if logical else "{acc} += {x} * {y};"
%>\
/* ${comment}
 * C (M x N) = A (M x K) . B (K x N). Every operand has an element offset and row and column
 * strides, so transposed and sliced views are read in place.
 * Work-item (g0, g1) owns the ${tm} x ${tn} tile of C at rows ${tm}*g1.., columns ${tn}*g0..,
 * computed in ${tm * len(vecs)} accumulators of ${vec_type}. */
__kernel void ${kname}(
    const long M, const long N, const long K,
    __global const ${a_type}* A, const long a_off, const long a_sr, const long a_sc,
    __global const ${b_type}* B, const long b_off, const long b_sr, const long b_sc,
    __global ${c_type}* C, const long c_off, const long c_sr, const long c_sc)
{
    const long gi = get_global_id(1) * ${tm};
    const long gj = get_global_id(0) * ${tn};
    if (gi >= M || gj >= N) return;
    if (N >= ${tn} && b_sc == 1) {
        /* Register-blocked. A tile hanging over C's bottom or right edge is moved back inside
         * (a C of fewer rows than the tile repeats its last row) and stores only its own part.
         * B's rows are read as vectors built from elements: PoCL calls vload out of line. */
        const long i0 = max(min(gi, M - ${tm}), 0L);
        const long j0 = min(gj, N - ${tn});
% for r in rows:
  % for v in vecs:
        ${vec_type} acc${r}_${v} = (${vec_type})(0);
  % endfor
% endfor
% for r in rows:
        __global const ${a_type}* a${r} = A + a_off + min(i0 + ${r}, M - 1) * a_sr;
% endfor
        __global const ${b_type}* b = B + b_off + j0;
        for (long k = 0; k < K; ++k) {
% for v in vecs:
            const ${vec_type} b${v} = (${vec_type})(${", ".join("%sb[%d]" % (b_cast, col) for vv, col in lanes if vv == v)});
% endfor
% for r in rows:
            const ${c_type} x${r} = ${a_cast}a${r}[k * a_sc];
  % for v in vecs:
            ${update.format(acc="acc%d_%d" % (r, v), x="x%d" % r, y="b%d" % v)}
  % endfor
% endfor
            b += b_sr;
        }
        __global ${c_type}* c = C + c_off + i0 * c_sr + j0 * c_sc;
        if (i0 == gi && j0 == gj && i0 + ${tm} <= M && c_sc == 1) {
% for r in rows:
  % for v in vecs:
            vstore${width}(acc${r}_${v}, ${v}, c + ${r} * c_sr);
  % endfor
% endfor
        } else {
            /* Moved, clipped or C written transposed: row by row through a private copy. */
            ${c_type} row[${tn}];
% for r in rows:
            if (i0 + ${r} >= gi && i0 + ${r} < M) {
  % for v in vecs:
                vstore${width}(acc${r}_${v}, ${v}, row);
  % endfor
                for (long j = gj - j0; j < ${tn}; ++j)
                    c[${r} * c_sr + j * c_sc] = row[j];
            }
% endfor
        }
        return;
    }
    /* C narrower than a tile, or B's rows strided: one element of C at a time. */
    for (long i = gi; i < min(gi + ${tm}, M); ++i) {
        for (long j = gj; j < min(gj + ${tn}, N); ++j) {
            ${c_type} sum = 0;
            for (long k = 0; k < K; ++k) {
                ${update.format(acc="sum", x="%sA[a_off + i * a_sr + k * a_sc]" % a_cast, y="%sB[b_off + k * b_sr + j * b_sc]" % b_cast)}
            }
            C[c_off + i * c_sr + j * c_sc] = sum;
        }
    }
}
