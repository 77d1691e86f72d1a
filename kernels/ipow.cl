/* clgraph helper, included in programs that call clg_ipow_<type>. */
/* Integer power, exact and wrapping like NumPy's (a double pow is neither: NVIDIA's gives
   pow(3, 1) = 2.99..., truncated to 2). Exponentiation by squaring in unsigned arithmetic
   of at least 32 bits (U), where overflow wraps; a signed type goes through the unsigned
   one of its size (the same low bits), and a negative exponent gives the truncated
   1 / x**-y: 1 for x = 1, +-1 for x = -1, else 0. */
#define CLG_UPOW(T, U) \
inline T clg_ipow_##T(const T x, const T y) \
{ \
    U r = 1, b = (U)x; \
    for (U e = (U)y; e != 0; e >>= 1) { \
        if (e & 1) r *= b; \
        b *= b; \
    } \
    return (T)r; \
}
#define CLG_IPOW(T, UT) \
inline T clg_ipow_##T(const T x, const T y) \
{ \
    if (y < 0) \
        return (T)(x == 1 ? 1 : (x == -1 ? 1 - 2 * (int)(y & 1) : 0)); \
    return (T)clg_ipow_##UT((UT)x, (UT)y); \
}
CLG_UPOW(uchar, uint)
CLG_UPOW(ushort, uint)
CLG_UPOW(uint, uint)
CLG_UPOW(ulong, ulong)
CLG_IPOW(char, uchar)
CLG_IPOW(short, ushort)
CLG_IPOW(int, uint)
CLG_IPOW(long, ulong)
