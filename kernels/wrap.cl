/* clgraph helper, included in programs that call clg_wadd/clg_wsub/clg_wmul/clg_wneg. */
/* (uint16 too: a scalar ushort product is computed in int, where 65535 * 65535 overflows.) */
/* Signed integer arithmetic that wraps as NumPy's does. In C a signed overflow is undefined,
   and Clang uses that: once fused, x + 1 > x folds to true. The same operation on the
   unsigned type of the same lanes wraps, and gives the same low bits (a scalar goes through
   an unsigned type of at least 32 bits, where C's promotions cannot overflow an int). */
#define CLG_WRAP_SCALAR(T, U) \
__attribute__((overloadable)) inline T clg_wadd(T a, T b) { return (T)((U)a + (U)b); } \
__attribute__((overloadable)) inline T clg_wsub(T a, T b) { return (T)((U)a - (U)b); } \
__attribute__((overloadable)) inline T clg_wmul(T a, T b) { return (T)((U)a * (U)b); } \
__attribute__((overloadable)) inline T clg_wneg(T a) { return (T)((U)0 - (U)a); }
#define CLG_WRAP_VECTOR(T, U) \
__attribute__((overloadable)) inline T clg_wadd(T a, T b) { return as_##T(as_##U(a) + as_##U(b)); } \
__attribute__((overloadable)) inline T clg_wsub(T a, T b) { return as_##T(as_##U(a) - as_##U(b)); } \
__attribute__((overloadable)) inline T clg_wmul(T a, T b) { return as_##T(as_##U(a) * as_##U(b)); } \
__attribute__((overloadable)) inline T clg_wneg(T a) { return as_##T((U)0 - as_##U(a)); }
#define CLG_WRAP_WIDTHS(T, U) \
CLG_WRAP_VECTOR(T##2, U##2) CLG_WRAP_VECTOR(T##4, U##4) CLG_WRAP_VECTOR(T##8, U##8) \
CLG_WRAP_VECTOR(T##16, U##16)
CLG_WRAP_SCALAR(char, uint) CLG_WRAP_SCALAR(short, uint)
CLG_WRAP_SCALAR(int, uint) CLG_WRAP_SCALAR(long, ulong) CLG_WRAP_SCALAR(ushort, uint)
CLG_WRAP_WIDTHS(char, uchar) CLG_WRAP_WIDTHS(short, ushort)
CLG_WRAP_WIDTHS(int, uint) CLG_WRAP_WIDTHS(long, ulong) CLG_WRAP_WIDTHS(ushort, ushort)
