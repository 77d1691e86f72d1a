<%page args="kname, kind, ndim, comment"/>
<%doc>
The emit stage of a device compaction (count, scan, emit), after the host read the total.
incl: inclusive scan (int64) of the flags or counts.
kind 'nonzero': element i is nonzero where incl[i] != incl[i-1]; its rank is incl[i-1];
  write its coordinates over the mask's shape (d0..d{ndim-1}) into row d of out (ndim, count).
kind 'repeat': element i fills out[end-c, end) with i, c = counts[i * cs] and
  end = incl[i] (cs != 0) or (i + 1) * c (one count for all, cs == 0); writes stay in
  [0, total).
Work-items stride over the n elements, so any grid size is valid.
</%doc>
/* ${comment} */
% if kind == "nonzero":
__kernel void ${kname}(const long n, const long count,
  % for d in range(ndim):
                       const long d${d},
  % endfor
                       __global const long* incl, const long incl_off,
                       __global long* out)
{
    for (long i = get_global_id(0); i < n; i += get_global_size(0)) {
        const long prev = i ? incl[incl_off + i - 1] : 0;
        if (incl[incl_off + i] == prev)
            continue;
        long r = i;
  % for d in reversed(range(ndim)):
        out[${d} * count + prev] = r % d${d};
        r /= d${d};
  % endfor
    }
}
% else:
__kernel void ${kname}(const long n, const long cs, const long total,
                       __global const long* counts, const long c_off,
                       __global const long* incl, const long incl_off,
                       __global long* out)
{
    for (long i = get_global_id(0); i < n; i += get_global_size(0)) {
        const long c = counts[c_off + i * cs];
        const long end = cs ? incl[incl_off + i] : (i + 1) * c;
        const long hi = min(end, total);
        for (long j = max(end - c, 0L); j < hi; ++j)
            out[j] = i;
    }
}
% endif
