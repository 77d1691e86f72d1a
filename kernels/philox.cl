/* Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011):
 * a counter-based generator. philox4x32_10(counter, key) is a bijection of the 128-bit
 * counter for each 64-bit key, so element blocks are drawn independently and in parallel,
 * and the same (key, counter) gives the same numbers on every device. */
#ifndef CLGRAPH_PHILOX
#define CLGRAPH_PHILOX
inline uint4 philox4x32_10(uint4 c, uint2 k)
{
    for (int r = 0; r < 10; ++r) {
        const uint hi0 = mul_hi(0xD2511F53u, c.x), lo0 = 0xD2511F53u * c.x;
        const uint hi1 = mul_hi(0xCD9E8D57u, c.z), lo1 = 0xCD9E8D57u * c.z;
        c = (uint4)(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
        k += (uint2)(0x9E3779B9u, 0xBB67AE85u);
    }
    return c;
}
#endif
