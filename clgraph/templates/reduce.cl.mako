<%page args="kname, comment, width, unroll, tree, acc_type, acc_vtype, identity, identity_v, params, operands, n_keep, n_rest, has_inner, has_cols, has_final, comp, cascade, inner_unrolled, inner_rest, inner_vector, inner_scalar, inner_fold, tree_step, c_first, c_step, cols_unrolled, cols_vector, cols_scalar, cols_fold, final_vector, final_scalar, preamble, store_cols, store_final, gather, gather_step, epi_fn, epi_inner, epi_gather, epi_cols_vec, epi_cols_sca, epi_final_vec, epi_final_sca, epi_tree"/>\
<%doc>
  One reduction kernel with up to three layouts, chosen per launch by `mode` (every code
  line comes from lower/reduce.py; sizes and strides are arguments, in elements):
    0 inner  work-item (or, with `tree` > 1, work-group) reduces chunk `part` of the reduced
             elements of output `o`; the run (innermost reduced axis, stride _sr) is read
             with vectors of `width` when `vec`.
    1 cols   work-item owns `width` adjacent outputs along the last kept axis (contiguous
             when `vec`) of kept row `ko` and walks chunk `part` of the reduced elements.
    2 final  combines partial results part[n_red][n_out] (a conversion or prologue ran in
             the first launch, so they are of the accumulator type), `width` outputs each.
  On CPUs a split `inner` launch may finish by itself (`gather`): see mode 0's end.
  A chunk is walked as segments of the run: `row` indexes the other reduced axes (rn*,
  strides _r*), `c` the run. Kept axes are kn*, strides _k*.
</%doc>\
<%def name="segment(pad)">\
${pad}const long row = i / n_run;
${pad}const long c0 = i - row * n_run;
${pad}const long c_end = min(n_run, c0 + (end - i));
${pad}i += c_end - c0;
% for name in operands:
${pad}long r_${name} = p_${name};
% endfor
% if n_rest:
${pad}{
${pad}    long q = row;
  % for d in reversed(range(n_rest)):
${pad}    {
${pad}        const long k = q % rn${d};
${pad}        q /= rn${d};
    % for name in operands:
${pad}        r_${name} += k * ${name}_r${d};
    % endfor
${pad}    }
  % endfor
${pad}}
% endif
</%def>\
<%def name="kept_offsets(index, dims)">\
% if dims:
        {
            long q = ${index};
  % for d in reversed(range(dims)):
            {
                const long k = q % kn${d};
                q /= kn${d};
    % for name in operands:
                p_${name} += k * ${name}_k${d};
    % endfor
            }
  % endfor
        }
% endif
</%def>\
<%def name="lines(block, pad)">\
% for line in block:
${pad}${line}
% endfor
</%def>\
${preamble}\
${epi_fn}\
/* ${comment}
% if has_inner:
 * Modes: 0 = reduce the run of each output${" (with a work-group tree)" if tree else ""}\
${", 1 = columns: " + str(width) + " adjacent outputs per work-item" if has_cols else ""}\
${", 2 = combine partial results" if has_final else ""}.
% else:
 * The launches that need no mode 0 run this copy without it (less for PoCL to compile).
 * Modes: 1 = columns: ${width} adjacent outputs per work-item\
${", 2 = combine partial results" if has_final else ""}.
% endif
 */
__kernel void ${kname}(
    ${",\n    ".join(params)})
{
% if tree:
    __local ${acc_type} scratch[${tree}];  /* local memory lives at kernel scope */
    ${acc_type} tree_acc = ${identity};
% endif
% if has_inner:
    if (mode == 0) {
% if tree:
        const long lid = get_local_id(0);
        const long nl = get_local_size(0);
        const long part = get_group_id(0) / n_out;
        const long o = get_group_id(0) % n_out;
% else:
        const long o = get_global_id(0);
        const long part = get_global_id(1);
        if (o >= n_out) return;
% endif
% for name in operands:
        long p_${name} = ${name}_off;
% endfor
${kept_offsets("o", n_keep)}\
        const long start = part * chunk;
        const long end = min(start + chunk, n_red);
        ${acc_type} acc = ${identity};
% if comp:
        ${acc_type} acc_c = 0;  /* Kahan's compensation of acc */
% endif
% if width > 1:
  % for u in range(unroll):
        ${acc_vtype} va${u} = ${identity_v};
  % endfor
% endif
        for (long i = start; i < end; ) {
${segment(" " * 12)}\
% if width > 1:
            long c = c0;
            if (vec) {
  % if cascade:
                /* A cascade: blocks of ${cascade} iterations summed in vd (a loop of fixed
                   length), ${cascade} blocks in vb, then into va: one add per element, and
                   rounding errors that stay small. The rest below adds into va directly. */
    % for u in range(unroll):
                ${acc_vtype} vb${u} = ${identity_v};
    % endfor
                int blocks = 0;
                for (; c + ${width * unroll * cascade} <= c_end; ) {
    % for u in range(unroll):
                    ${acc_vtype} vd${u} = ${identity_v};
    % endfor
                    for (int l1 = 0; l1 < ${cascade}; ++l1, c += ${width * unroll}) {
    % for block in inner_unrolled:
                        {
${lines(block, " " * 28)}\
                        }
    % endfor
                    }
    % for u in range(unroll):
                    vb${u} = vb${u} + vd${u};
    % endfor
                    if (++blocks == ${cascade}) {
    % for u in range(unroll):
                        va${u} = va${u} + vb${u};
                        vb${u} = ${identity_v};
    % endfor
                        blocks = 0;
                    }
                }
    % for u in range(unroll):
                va${u} = va${u} + vb${u};
    % endfor
                for (; c + ${width * unroll} <= c_end; c += ${width * unroll}) {
    % for block in inner_rest:
                    {
${lines(block, " " * 24)}\
                    }
    % endfor
                }
  % else:
                for (; c + ${width * unroll} <= c_end; c += ${width * unroll}) {
    % for block in inner_unrolled:
                    {
${lines(block, " " * 24)}\
                    }
    % endfor
                }
  % endif
                for (; c + ${width} <= c_end; c += ${width}) {
${lines(inner_vector, " " * 20)}\
                }
            }
            CLG_TAIL_LOOP
            for (; c < c_end; ++c) {
% else:
            for (long c = ${c_first}; c < c_end; c += ${c_step}) {
% endif
${lines(inner_scalar, " " * 16)}\
            }
        }
% if comp:
        acc = acc - acc_c;
% endif
${lines(inner_fold, " " * 8)}\
% if tree:
        tree_acc = acc;
% else:
        out0[part * n_out + o] = acc;
  % if epi_inner:
        ${epi_inner}
  % endif
  % if gather:
        if (gather) {
            /* The last of the chunks of output o to finish combines the partial results
               (in chunk order: the same sum every call) and resets the counter, saving a
               second launch. */
            mem_fence(CLK_GLOBAL_MEM_FENCE);
            if (atomic_inc(cnt + o) == (int)get_global_size(1) - 1) {
                mem_fence(CLK_GLOBAL_MEM_FENCE);
                ${acc_type} tot = ${identity};
                for (long p = 0; p < (long)get_global_size(1); ++p) {
${lines(gather_step, " " * 20)}\
                }
                fin[o] = tot;
  % if epi_gather:
                ${epi_gather}
  % endif
                cnt[o] = 0;
            }
        }
  % endif
% endif
    }
% endif
% if has_cols:
    ${'else ' if has_inner else ''}if (mode == 1) {
        /* No early return here: with a work-group tree the kernel has barriers. */
        const long n_kin = kn${n_keep - 1};
        const long per_row = get_global_size(0) / (n_out / n_kin);  /* work-items per row */
        const long ko = get_global_id(0) / per_row;
        const long j0 = (get_global_id(0) - ko * per_row) * ${width};
        const long part = get_global_id(1);
  % for name in operands:
        long p_${name} = ${name}_off + j0 * ${name}_k${n_keep - 1};
  % endfor
${kept_offsets("ko", n_keep - 1)}\
        const long o0 = part * n_out + ko * n_kin + j0;
        const long start = part * chunk;
        const long end = min(start + chunk, n_red);
  % if width > 1:
        if (vec && j0 + ${width} <= n_kin) {
    % for u in range(unroll):
            ${acc_vtype} va${u} = ${identity_v};
    % endfor
            for (long i = start; i < end; ) {
${segment(" " * 16)}\
                long c = c0;
                for (; c + ${unroll} <= c_end; c += ${unroll}) {
    % for block in cols_unrolled:
                    {
${lines(block, " " * 24)}\
                    }
    % endfor
                }
                CLG_TAIL_LOOP
                for (; c < c_end; ++c) {
${lines(cols_vector, " " * 20)}\
                }
            }
${lines(cols_fold, " " * 12)}\
            ${store_cols}
  % if epi_cols_vec:
            ${epi_cols_vec}
  % endif
        } else
  % endif
        CLG_TAIL_LOOP
        for (long j = 0; j < ${width} && j0 + j < n_kin; ++j) {
            ${acc_type} acc = ${identity};
            for (long i = start; i < end; ) {
${segment(" " * 16)}\
                CLG_TAIL_LOOP
                for (long c = c0; c < c_end; ++c) {
${lines(cols_scalar, " " * 20)}\
                }
            }
            out0[o0 + j] = acc;
  % if epi_cols_sca:
            ${epi_cols_sca}
  % endif
        }
    }
% endif
% if has_final:
    else {
        const long o = get_global_id(0) * ${width};
  % if width > 1:
        if (o + ${width} <= n_out) {
            ${acc_vtype} va0 = ${identity_v};
            for (long p = 0; p < n_red; ++p) {
${lines(final_vector, " " * 16)}\
            }
            ${store_final}
  % if epi_final_vec:
            ${epi_final_vec}
  % endif
        } else
  % endif
        CLG_TAIL_LOOP
        for (long j = 0; j < ${width} && o + j < n_out; ++j) {
            ${acc_type} acc = ${identity};
            CLG_TAIL_LOOP
            for (long p = 0; p < n_red; ++p) {
${lines(final_scalar, " " * 16)}\
            }
            out0[o + j] = acc;
  % if epi_final_sca:
            ${epi_final_sca}
  % endif
        }
    }
% endif
% if tree:
    /* The work-group tree, outside every branch: all work-items of every mode get here
       (no early return), so each barrier is met by the whole group. */
    {
        const long lid = get_local_id(0);
        scratch[lid] = tree_acc;
        barrier(CLK_LOCAL_MEM_FENCE);
        for (long s = get_local_size(0) / 2; s > 0; s >>= 1) {
            if (lid < s) {
${lines(tree_step, " " * 16)}\
            }
            barrier(CLK_LOCAL_MEM_FENCE);
        }
        /* Mode 0: group (part, o) writes out0[part * n_out + o], i.e. out0[group]. */
        if (mode == 0 && lid == 0) {
            out0[get_group_id(0)] = scratch[0];
  % if epi_tree:
            ${epi_tree}
  % endif
        }
    }
% endif
}
