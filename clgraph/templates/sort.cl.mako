<%page args="kname, ctype, is_float, indices, comment"/>
<%doc>
Stable sort along the middle axis of a contiguous (outer, n, inner) array by a bitonic
network over (value, position) pairs padded to p = 2^k per line. Positions >= n are padding
and order last; NaN orders after every number; ties order by position, so the network's
result is the stable order. init copies lines into keys/pos, step runs one (k, j) stage of
the network, emit writes sorted values (or their positions) back in (outer, n, inner) order.
</%doc>
/* ${comment} */
inline int ${kname}_less(const ${ctype} ka, const long ia, const ${ctype} kb, const long ib,
                         const long n)
{
    const int pa = ia >= n, pb = ib >= n;
    if (pa || pb) return (!pa && pb) || (pa && pb && ia < ib);
% if is_float:
    const int na = isnan(ka), nb = isnan(kb);
    if (na || nb) return (!na && nb) || (na && nb && ia < ib);
% endif
    if (ka < kb) return 1;
    if (kb < ka) return 0;
    return ia < ib;
}

__kernel void ${kname}_init(const long lines, const long n, const long inner, const long p,
                            __global const ${ctype}* x, const long x_off,
                            __global ${ctype}* keys, __global long* pos)
{
    for (long g = get_global_id(0); g < lines * p; g += get_global_size(0)) {
        const long line = g / p, j = g % p;
        const long o = line / inner, i = line % inner;
        keys[g] = j < n ? x[x_off + o * n * inner + j * inner + i] : (${ctype})0;
        pos[g] = j;
    }
}

__kernel void ${kname}_step(const long lines, const long n, const long p, const long k,
                            const long j, __global ${ctype}* keys, __global long* pos)
{
    for (long g = get_global_id(0); g < lines * p; g += get_global_size(0)) {
        const long t = g % p;
        const long partner = t ^ j;
        if (partner <= t) continue;
        const long a = g, b = g - t + partner;
        const ${ctype} ka = keys[a], kb = keys[b];
        const long ia = pos[a], ib = pos[b];
        const int up = (t & k) == 0;
        const int swap = up ? ${kname}_less(kb, ib, ka, ia, n) : ${kname}_less(ka, ia, kb, ib, n);
        if (swap) {
            keys[a] = kb; keys[b] = ka;
            pos[a] = ib; pos[b] = ia;
        }
    }
}

__kernel void ${kname}_emit(const long lines, const long n, const long inner, const long p,
                            __global const ${ctype}* keys, __global const long* pos,
                            __global ${"long" if indices else ctype}* out)
{
    for (long g = get_global_id(0); g < lines * n; g += get_global_size(0)) {
        const long line = g / n, j = g % n;
        const long o = line / inner, i = line % inner;
% if indices:
        out[o * n * inner + j * inner + i] = pos[line * p + j];
% else:
        out[o * n * inner + j * inner + i] = keys[line * p + j];
% endif
    }
}
