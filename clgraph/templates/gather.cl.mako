<%page args="kname, mode, ndim, ctype, idx_ctypes, atomic, comment"/>
<%doc>
Gather (out[i] = src[map(i)]) or scatter (src[map(i)] = y[i], or += with np.add.at
semantics) over an output space of `ndim` axes. map(i) = src_off + sum_d i_d * src_s_d
+ sum_k idx_k[i] * idx_k_xs: per output axis a stride into src (0 on the axes of the index
arrays' broadcast shape), plus each index array's value (negative counts from the end)
times the stride of the axis it indexes. An index outside [-len, len) is skipped and
reported in err: err[0] (low word) is the flag, err[1..3] the index, the length and k.
mode: 'gather' | 'set' | 'add'. atomic (add only): 'cas32' | 'cas64' (float CAS loops),
'add32' | 'add64' (integer atomics), 'bool' (logical or, serial), 'serial' (one work-item runs the whole loop).
Work-items stride over the n elements, so any grid size is valid.
</%doc>
/* ${comment} */
% if atomic in ("cas64", "add64"):
#pragma OPENCL EXTENSION cl_khr_int64_base_atomics : enable
% endif
% if mode == "add":
inline void ${kname}_acc(__global ${ctype}* p, const ${ctype} v)
{
  % if atomic == "cas32":
    union { uint u; ${ctype} f; } old, upd;
    do {
        old.f = *p;
        upd.f = old.f + v;
    } while (atomic_cmpxchg((volatile __global uint*)p, old.u, upd.u) != old.u);
  % elif atomic == "cas64":
    union { ulong u; ${ctype} f; } old, upd;
    do {
        old.f = *p;
        upd.f = old.f + v;
    } while (atom_cmpxchg((volatile __global ulong*)p, old.u, upd.u) != old.u);
  % elif atomic == "add32":
    atomic_add((volatile __global ${ctype}*)p, v);
  % elif atomic == "add64":
    atom_add((volatile __global ${ctype}*)p, v);
  % elif atomic == "bool":
    *p = (${ctype})((*p | v) != 0);
  % else:
    *p = (${ctype})(*p + v);
  % endif
}
% endif

__kernel void ${kname}(
    const long n,
% for d in range(ndim):
    const long d${d},
% endfor
    __global ${"const " if mode == "gather" else ""}${ctype}* src, const long src_off,
% for d in range(ndim):
    const long src_s${d},
% endfor
% for k, ict in enumerate(idx_ctypes):
    __global const ${ict}* idx${k}, const long idx${k}_off, const long idx${k}_len,
    const long idx${k}_xs,
  % for d in range(ndim):
    const long idx${k}_s${d},
  % endfor
% endfor
% if mode == "gather":
    __global ${ctype}* dst, const long dst_off,
% else:
    __global const ${ctype}* y, const long y_off,
  % for d in range(ndim):
    const long y_s${d},
  % endfor
% endif
    __global long* err)
{
    for (long gid = get_global_id(0); gid < n; gid += get_global_size(0)) {
        long r = gid;
        long p = src_off;
% for k in range(len(idx_ctypes)):
        long p${k} = idx${k}_off;
% endfor
% if mode != "gather":
        long py = y_off;
% endif
% for d in reversed(range(ndim)):
        {
            const long q = r % d${d};
            r /= d${d};
            p += q * src_s${d};
  % for k in range(len(idx_ctypes)):
            p${k} += q * idx${k}_s${d};
  % endfor
  % if mode != "gather":
            py += q * y_s${d};
  % endif
        }
% endfor
        int bad = 0;
% for k in range(len(idx_ctypes)):
        {
            const long raw = (long)idx${k}[p${k}];
            const long v = raw < 0 ? raw + idx${k}_len : raw;
            if (v < 0 || v >= idx${k}_len) {
                bad = 1;
                if (atomic_cmpxchg((volatile __global int*)err, 0, 1) == 0) {
                    err[1] = raw;
                    err[2] = idx${k}_len;
                    err[3] = ${k};
                }
            } else {
                p += v * idx${k}_xs;
            }
        }
% endfor
% if mode == "gather":
        dst[dst_off + gid] = bad ? (${ctype})0 : src[p];
% elif mode == "set":
        if (!bad) src[p] = y[py];
% else:
        if (!bad) ${kname}_acc(src + p, y[py]);
% endif
    }
}
