<%page args="kname, comment, tree, width, unroll, val_type, vec_type, params, n_keep, better, tree_better, tree_worse, zero, i_first, i_step, identity, identity_v, unrolled, vector_step, scalar_step, fold, find_unrolled, find_any, vec_equal, scalar_equal, preamble, find_load"/>\
<%doc>
  Argmax/argmin along one axis (every expression comes from lower/reduce.py). A work-item
  (or, with `tree` > 1, a work-group) scans chunk `part` of the axis (length n_axis, stride
  in0_sa) for output `o` and keeps the first best index: `better` is strict and NaN beats
  every number. With `tree`, work-items interleave and combine through local memory, ties
  going to the lower index. When `vec` (contiguous axis, width > 1) the chunk is read twice
  with vectors instead: its best value `m`, then the first index holding `m`.
  With several chunks a first launch writes each chunk's best value and index
  (`write_vals`: vals[part][o], out0[part][o]); a second launch (`remap`) scans those values
  and maps the winner through idx_in.
</%doc>\
<%def name="lines(block, pad)">\
% for line in block:
${pad}${line}
% endfor
</%def>\
${preamble}\
/* ${comment}
 * Grid: ${"one work-group per (chunk of the axis, output)" if tree else "dim 0 = output, dim 1 = chunk of the axis"}.
 */
__kernel void ${kname}(
    ${",\n    ".join(params)})
{
% if tree:
    const long lid = get_local_id(0);
    const long nl = get_local_size(0);
    __local ${val_type} scratch_v[${tree}];
    __local long scratch_i[${tree}];
    const long part = get_group_id(0) / n_out;
    const long o = get_group_id(0) % n_out;
% else:
    const long o = get_global_id(0);
    const long part = get_global_id(1);
    if (o >= n_out) return;
% endif
    long p = in0_off;
% if n_keep:
    {
        long q = o;
  % for d in reversed(range(n_keep)):
        {
            const long k = q % kn${d};
            q /= kn${d};
            p += k * in0_k${d};
        }
  % endfor
    }
% endif
    const long start = part * chunk;
    const long end = min(start + chunk, n_axis);
    ${val_type} best = ${zero};
    long bi = -1;
% if width > 1:
    if (vec) {
        ${val_type} m = ${identity};
  % for u in range(unroll):
        ${vec_type} va${u} = ${identity_v};
  % endfor
        long i = start;
        for (; i + ${width * unroll} <= end; i += ${width * unroll}) {
  % for block in unrolled:
            {
${lines(block, " " * 16)}\
            }
  % endfor
        }
        for (; i + ${width} <= end; i += ${width}) {
${lines(vector_step, " " * 12)}\
        }
        for (; i < end; ++i) {
${lines(scalar_step, " " * 12)}\
        }
${lines(fold, " " * 8)}\
        const ${vec_type} mv = (${vec_type})(m);
        for (i = start; i + ${width * unroll} <= end; i += ${width * unroll}) {
${lines(find_unrolled, " " * 12)}\
            if (any(${find_any})) break;
        }
        for (; i + ${width} <= end; i += ${width}) {
            const ${vec_type} v = ${find_load};
            if (any(${vec_equal})) break;
        }
        for (; i < end; ++i) {
            if (${scalar_equal}) break;
        }
        best = m;
        bi = i;
    } else
% endif
    {
        long i = ${i_first};
        if (i < end) {
            best = in0[p + i * in0_sa];
            bi = i;
            i += ${i_step};
        }
        for (; i < end; i += ${i_step}) {
            const ${val_type} v = in0[p + i * in0_sa];
            if (${better}) {
                best = v;
                bi = i;
            }
        }
    }
% if tree:
    scratch_v[lid] = best;
    scratch_i[lid] = bi;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (long s = nl / 2; s > 0; s >>= 1) {
        if (lid < s) {
            const ${val_type} av = scratch_v[lid];
            const ${val_type} bv = scratch_v[lid + s];
            const long ai = scratch_i[lid];
            const long bj = scratch_i[lid + s];
            if (bj >= 0 && (ai < 0 || (${tree_better}) || (!(${tree_worse}) && bj < ai))) {
                scratch_v[lid] = bv;
                scratch_i[lid] = bj;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid != 0) return;
    best = scratch_v[0];
    bi = scratch_i[0];
% endif
    if (remap) bi = idx_in[p + bi * in0_sa];
    out0[part * n_out + o] = bi;
    if (write_vals) vals[part * n_out + o] = best;
}
