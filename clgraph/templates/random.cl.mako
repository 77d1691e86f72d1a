<%page args="kname, dist, ctype, per_block, comment"/>
<%include file="philox.cl"/>
/* ${comment}
 * ${dist} numbers of type ${ctype}: work-item b encrypts the counter (b, stream counter) with
 * the stream's key and turns the 4 words into ${per_block} numbers, elements
 * [${per_block} b, ${per_block} (b + 1)). Work-item 0 also writes the advanced state. */
__kernel void ${kname}(const long n, __global const uint* state_buf, const long state_off,
                       __global uint* new_state,
                       __global ${ctype}* out)
{
    const long b = get_global_id(0);
    const long e0 = b * ${per_block};
    __global const uint* state = state_buf + state_off;  /* a slice when scan carries it */
    const uint2 key = (uint2)(state[0], state[1]);
    const uint4 r = philox4x32_10((uint4)((uint)b, (uint)(b >> 32), state[2], state[3]), key);
    if (b == 0) {
        new_state[0] = state[0];
        new_state[1] = state[1];
        new_state[2] = state[2] + 1u;
        new_state[3] = state[3] + (state[2] == 0xFFFFFFFFu ? 1u : 0u);
    }
    if (e0 >= n) return;
% if ctype == "float":
    /* 24-bit uniforms: u in [0, 1), v in (0, 1]. */
    const float4 u = convert_float4(r >> 8) * 5.9604644775390625e-08f;
% else:
    /* 53-bit uniforms from pairs of words. */
    const double2 u = (double2)((double)(r.x >> 5) * 67108864.0 + (double)(r.y >> 6),
                                (double)(r.z >> 5) * 67108864.0 + (double)(r.w >> 6))
                      * 1.1102230246251565e-16;
% endif
% if dist == "uniform":
    ${ctype} vals[${per_block}] = {${", ".join(f"u.s{i}" for i in range(per_block))}};
% else:
    /* Box-Muller on pairs (1 - u0, u1): the radius's uniform is in (0, 1]. */
    ${ctype} vals[${per_block}];
%   for p in range(per_block // 2):
    {
        const ${ctype} rad = sqrt(-2 * log(1 - u.s${2 * p}));
        const ${ctype} th = ${"6.283185307179586f" if ctype == "float" else "6.283185307179586"} * u.s${2 * p + 1};
        vals[${2 * p}] = rad * cos(th);
        vals[${2 * p + 1}] = rad * sin(th);
    }
%   endfor
% endif
    for (int i = 0; i < ${per_block}; ++i)
        if (e0 + i < n) out[e0 + i] = vals[i];
}
