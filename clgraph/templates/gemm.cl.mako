<%page args="kname, comment, a_type, b_type, c_type, vec_type, width, rows, vecs, lanes, a_cast, b_cast, logical, outs, extras, epi_vec, epi_scalar, epi_note"/>\
<%doc>
  Register-blocked GEMM: C (M x N) = A (M x K) . B (K x N), optionally with an epilogue.

  kname     generated kernel name
  comment   sanitised description of the node
  a_type, b_type, c_type   OpenCL element types of A, B and the product (the accumulator type)
  vec_type  c_type as a vector of `width` lanes: one accumulator holds `width` columns of a row
  width     lanes per vector
  rows      tile rows per work-item: [0, 1, .. TM-1]
  vecs      accumulator vectors per tile row: [0, .. NV-1]; the tile is TM x (NV * width)
  lanes     [(vector index, column in the tile)] for every tile column
  a_cast, b_cast   conversion of one A or B element to c_type: "(double)", or "" if none
  logical   bool product: accumulate with | and & (operands are 0 or 1)
  outs      the outputs: [{"ptr": "C", "ctype", "vreg": "acc%d_%d" (tile row, vector),
            "sreg": scalar expression}]; they share C's offset and strides
  extras    operands the epilogue reads: [{"ptr": "E1", "ctype"}], each with its own offset
            and row/column strides (0 on a broadcast axis)
  epi_vec   {(r, v): lines} computing the outputs' registers of accumulator (r, v); empty
            without an epilogue
  epi_scalar  lines computing the outputs of one element `sum` at (i, j)
  epi_note  one comment line naming the epilogue, or ""
</%doc>\
<%
  tm = len(rows)
  tn = len(lanes)
  update = "{acc} |= {x} & {y};" if logical else "{acc} += {x} * {y};"
%>\
/* ${comment}
 * C (M x N) = A (M x K) . B (K x N). Every operand has an element offset and row and column
 * strides, so transposed and sliced views are read in place.
% if epi_note:
 * ${epi_note}
% endif
 * Work-item (g0, g1) owns the ${tm} x ${tn} tile of C at rows ${tm}*g1.., columns ${tn}*g0..,
 * computed in ${tm * len(vecs)} accumulators of ${vec_type}. */
__kernel void ${kname}(
    const long M, const long N, const long K,
    __global const ${a_type}* A, const long a_off, const long a_sr, const long a_sc,
    __global const ${b_type}* B, const long b_off, const long b_sr, const long b_sc,
% for o in outs:
    __global ${o["ctype"]}* ${o["ptr"]},
% endfor
    const long c_off, const long c_sr, const long c_sc${"," if extras else ")"}
% for e in extras:
    __global const ${e["ctype"]}* ${e["ptr"]}, const long ${e["ptr"]}_off, const long ${e["ptr"]}_sr, const long ${e["ptr"]}_sc${"," if not loop.last else ")"}
% endfor
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
% if epi_vec:
        /* Epilogue on each accumulator vector; the extra operands are read at the same
         * elements (rows clamped as A's are). */
  % for r in rows:
        const long er${r} = min(i0 + ${r}, M - 1);
    % for v in vecs:
      % for line in epi_vec[(r, v)]:
        ${line}
      % endfor
    % endfor
  % endfor
% endif
% for o in outs:
        __global ${o["ctype"]}* c_${o["ptr"]} = ${o["ptr"]} + c_off + i0 * c_sr + j0 * c_sc;
% endfor
        if (i0 == gi && j0 == gj && i0 + ${tm} <= M && c_sc == 1) {
% for r in rows:
  % for v in vecs:
    % for o in outs:
            vstore${width}(${o["vreg"] % (r, v)}, ${v}, c_${o["ptr"]} + ${r} * c_sr);
    % endfor
  % endfor
% endfor
        } else {
            /* Moved, clipped or C written transposed: row by row through a private copy. */
% for o in outs:
            ${o["ctype"]} row_${o["ptr"]}[${tn}];
% endfor
% for r in rows:
            if (i0 + ${r} >= gi && i0 + ${r} < M) {
  % for o in outs:
    % for v in vecs:
                vstore${width}(${o["vreg"] % (r, v)}, ${v}, row_${o["ptr"]});
    % endfor
  % endfor
                for (long j = gj - j0; j < ${tn}; ++j) {
  % for o in outs:
                    c_${o["ptr"]}[${r} * c_sr + j * c_sc] = row_${o["ptr"]}[j];
  % endfor
                }
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
% for line in epi_scalar:
            ${line}
% endfor
% for o in outs:
            ${o["ptr"]}[c_off + i * c_sr + j * c_sc] = ${o["sreg"]};
% endfor
        }
    }
}
