/* gemm_kernel.h: the micro-kernel body, written once and compiled once per
 * ISA with that ISA's flags (kernels/<isa>/gemm_<isa>.c define the tile and
 * the vector width, then include this file).
 *
 * Define before including:
 *   KERNEL   function name, e.g. fastbp_dgemm_avx2_6x8
 *   T        float or double
 *   MR, NR   tile rows and columns; NR a multiple of the lanes in VBYTES
 *   VBYTES   vector register width in bytes (16, 32 or 64)
 *
 * Outer-product form: for each p, a column of MR values times a row of NR
 * values is added to the MR×NR accumulator tile held in registers. Each
 * element is summed over p in order, so the result does not depend on where
 * the tile sits in C.
 */
#include <stddef.h>

typedef T KERNEL_VEC __attribute__((vector_size(VBYTES)));
#define LANES ((int)(VBYTES / sizeof(T)))
#define NV (NR / LANES)

void KERNEL(int kc, const T *restrict a, const T *restrict b,
            T *restrict c, ptrdiff_t ldc, int m, int n, int beta)
{
    /* a is (kc, MR) packed, b is (kc, NR) packed, c is (m, n) with row stride ldc */
    KERNEL_VEC acc[MR][NV];
    for (int i = 0; i < MR; ++i)
        for (int v = 0; v < NV; ++v)
            acc[i][v] = (KERNEL_VEC){0};

    for (int p = 0; p < kc; ++p) {
        KERNEL_VEC bv[NV];
        for (int v = 0; v < NV; ++v)
            __builtin_memcpy(&bv[v], b + p * NR + v * LANES, sizeof(KERNEL_VEC));
        for (int i = 0; i < MR; ++i) {
            KERNEL_VEC ai = (KERNEL_VEC){0} + a[p * MR + i];
            for (int v = 0; v < NV; ++v)
                acc[i][v] += ai * bv[v];
        }
    }

    if (m == MR && n == NR) {
        for (int i = 0; i < MR; ++i)
            for (int v = 0; v < NV; ++v) {
                T *dst = c + i * ldc + v * LANES;
                if (beta) {
                    KERNEL_VEC old;
                    __builtin_memcpy(&old, dst, sizeof old);
                    acc[i][v] += old;
                }
                __builtin_memcpy(dst, &acc[i][v], sizeof acc[i][v]);
            }
        return;
    }
    /* Edge tile: spill to memory, copy the valid part. */
    T tile[MR][NR];
    __builtin_memcpy(tile, acc, sizeof tile);
    for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j)
            c[i * ldc + j] = beta ? c[i * ldc + j] + tile[i][j] : tile[i][j];
}

#undef NV
#undef LANES
