<%page args="kname, width, n_outer, params, operands, vec_loads, vec_body, vec_stores, scalar_loads, scalar_body, scalar_stores, comment"/>
/* ${comment}
 * Grid: dim 0 walks the innermost axis, each work item a run of per_item chunks of ${width}
 * (a long run on CPUs, one chunk on GPUs); dim 1 walks the rows of the outer axes. */
__kernel void ${kname}(
    ${",\n    ".join(params)})
{
    const long i_begin = get_global_id(0) * per_item * ${width};
    if (i_begin >= n_inner) return;
    const long i_end = min(i_begin + per_item * ${width}, n_inner);
    /* dim 1: one row of the outer axes per work item, or a loop over them (small launches
       on CPUs run as one work-group: one thread) */
    for (long row = get_global_id(1); row < n_rows; row += get_global_size(1)) {
        long r = row;
% for op in operands:
        long p_${op['name']} = ${op['name']}_off;
% endfor
% for d in reversed(range(n_outer)):
        {
            const long q = r % n${d};
            r /= n${d};
  % for op in operands:
            p_${op['name']} += q * ${op['name']}_s${d};
  % endfor
        }
% endfor
        long i0 = i_begin;
% if width > 1:
        for (; i0 + ${width} <= i_end; i0 += ${width}) {
  % for line in vec_loads + vec_body + vec_stores:
            ${line}
  % endfor
        }
% endif
        CLG_TAIL_LOOP
        for (long i = i0; i < i_end; ++i) {
% for line in scalar_loads + scalar_body + scalar_stores:
            ${line}
% endfor
        }
    }
}
