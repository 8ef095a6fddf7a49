/* gemm_kernel.h: the micro-kernels, written once and compiled once per ISA
 * with that ISA's flags (kernels/<isa>/gemm_<isa>.c define the tiles and the
 * vector width, then include this file).
 *
 * Define before including:
 *   T                 float or double
 *   VBYTES            vector register width in bytes (16, 32 or 64)
 *   KERNEL, MR, NR    outer-product kernel name and tile; NR a multiple of the lanes
 *   DOT, DMR, DNR     dot-product kernel name and tile
 *   VEC               a unique name for the vector type
 * Contracts: see gemm.h.
 */
#include <stddef.h>

typedef T VEC __attribute__((vector_size(VBYTES)));
#define LANES ((int)(VBYTES / sizeof(T)))
#define NV (NR / LANES)

/* Outer-product form: for each p, a column of MR values of the packed A
 * panel times a row of NR values of B is added to the MR×NR accumulator tile
 * held in registers. Each element is summed over p in order, so its value
 * does not depend on where the tile sits in C, nor on whether B was packed. */
void KERNEL(int kc, const T *restrict a, const T *restrict b, ptrdiff_t ldb,
            T *restrict c, ptrdiff_t ldc, int m, int n, T alpha, int beta)
{
    VEC acc[MR][NV];
    for (int i = 0; i < MR; ++i)
        for (int v = 0; v < NV; ++v)
            acc[i][v] = (VEC){0};

    for (int p = 0; p < kc; ++p) {
        VEC bv[NV];
        for (int v = 0; v < NV; ++v)
            __builtin_memcpy(&bv[v], b + p * ldb + v * LANES, sizeof(VEC));
        for (int i = 0; i < MR; ++i) {
            T ai = a[p * MR + i]; /* scalar * vector: a broadcast load, no add */
            for (int v = 0; v < NV; ++v)
                acc[i][v] += ai * bv[v];
        }
    }

    if (m == MR && n == NR) {
        for (int i = 0; i < MR; ++i)
            for (int v = 0; v < NV; ++v) {
                T *dst = c + i * ldc + v * LANES;
                VEC r = alpha * acc[i][v];
                if (beta) {
                    VEC old;
                    __builtin_memcpy(&old, dst, sizeof old);
                    r += old;
                }
                __builtin_memcpy(dst, &r, sizeof r);
            }
        return;
    }
    /* Edge tile: spill to memory, copy the valid part. */
    T tile[MR][NR];
    __builtin_memcpy(tile, acc, sizeof tile);
    for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) {
            T r = alpha * tile[i][j];
            c[i * ldc + j] = beta ? c[i * ldc + j] + r : r;
        }
}

/* Dot-product form for C = A·Bᵀ with contiguous rows: lane-wise partial sums
 * over p, then the lanes summed pairwise (fixed order), then the tail. Rows
 * past m and columns past n read row m-1 / column n-1 again (never memory
 * outside the matrices) and their results are dropped. */
void DOT(int k, const T *restrict a, ptrdiff_t lda, const T *restrict b, ptrdiff_t ldb,
         T *restrict c, ptrdiff_t ldc, int m, int n, T alpha, int beta)
{
    const T *ar[DMR], *br[DNR];
    for (int i = 0; i < DMR; ++i) ar[i] = a + (ptrdiff_t)(i < m ? i : m - 1) * lda;
    for (int j = 0; j < DNR; ++j) br[j] = b + (ptrdiff_t)(j < n ? j : n - 1) * ldb;

    VEC acc[DMR][DNR];
    for (int i = 0; i < DMR; ++i)
        for (int j = 0; j < DNR; ++j)
            acc[i][j] = (VEC){0};
    int kv = k - k % LANES;
    for (int p = 0; p < kv; p += LANES) {
        VEC av[DMR], bv[DNR];
        for (int i = 0; i < DMR; ++i) __builtin_memcpy(&av[i], ar[i] + p, sizeof(VEC));
        for (int j = 0; j < DNR; ++j) __builtin_memcpy(&bv[j], br[j] + p, sizeof(VEC));
        for (int i = 0; i < DMR; ++i)
            for (int j = 0; j < DNR; ++j)
                acc[i][j] += av[i] * bv[j];
    }
    for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) {
            T lane[LANES];
            __builtin_memcpy(lane, &acc[i][j], sizeof lane);
            for (int w = LANES / 2; w >= 1; w /= 2)
                for (int l = 0; l < w; ++l) lane[l] += lane[l + w];
            T s = lane[0];
            for (int p = kv; p < k; ++p) s += ar[i][p] * br[j][p];
            T r = alpha * s;
            c[i * ldc + j] = beta ? c[i * ldc + j] + r : r;
        }
}

#undef NV
#undef LANES
