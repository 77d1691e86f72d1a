<%page args="kname, a_type, b_type, c_type, mul, add, comment"/>
/* ${comment}
 * out[q, i, j] = sum_k a[q, i, k] * b[q, k, j], one output element per step of a grid-stride
 * loop; a and b are read in place through their offsets and strides (a transposed operand,
 * as a gradient passes it, needs no copy). The products per batch element are small or the
 * device is a GPU: CPU devices run batched products on the host's BLAS instead.
 */
__kernel void ${kname}(const long batch, const long m, const long n, const long k,
                       __global const ${a_type}* restrict a, const long a_off,
                       const long a_s0, const long a_s1, const long a_s2,
                       __global const ${b_type}* restrict b, const long b_off,
                       const long b_s0, const long b_s1, const long b_s2,
                       __global ${c_type}* restrict out)
{
    const long total = batch * m * n;
    for (long q = get_global_id(0); q < total; q += get_global_size(0)) {
        const long j = q % n;
        const long i = (q / n) % m;
        const long bi = q / (n * m);
        __global const ${a_type}* ar = a + a_off + bi * a_s0 + i * a_s1;
        __global const ${b_type}* bc = b + b_off + bi * b_s0 + j * b_s2;
        ${c_type} acc = 0;
        for (long p = 0; p < k; ++p)
            acc = ${add("acc", mul(f"(({c_type})ar[p * a_s2])", f"(({c_type})bc[p * b_s1])"))};
        out[q] = acc;
    }
}
