<%page args="kname, width, n_outer, params, operands, vec_loads, vec_body, vec_stores, scalar_loads, scalar_body, scalar_stores, comment"/>
/* ${comment}
 * Grid: dim 0 walks the innermost axis in chunks of ${width}, dim 1 the outer axes. */
__kernel void ${kname}(
    ${",\n    ".join(params)})
{
    const long i0 = get_global_id(0) * ${width};
    if (i0 >= n_inner) return;
    long r = get_global_id(1);
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
% if width > 1:
    if (i0 + ${width} <= n_inner) {
  % for line in vec_loads + vec_body + vec_stores:
        ${line}
  % endfor
        return;
    }
% endif
    for (long i = i0; i < n_inner && i < i0 + ${width}; ++i) {
% for line in scalar_loads + scalar_body + scalar_stores:
        ${line}
% endfor
    }
}
