/* outer.c: the backward products C = alpha·op(A)·B + beta·C as sums of
 * rows of B (see outer.h).
 *
 * In both backward products B runs along C's columns in memory: ∇W = δᵀ·a_in
 * (B = a_in, a row per sample) and δ_in = δ·W (B = W, a row per unit). So
 * row i of C is a sum of B's rows, row p scaled by op(A)[i, p]: a tile of
 * MR rows of C and NV vectors of its columns (16 floats each) is held in
 * 24 registers while p runs over k, each step NV loads of B's row p and
 * MR broadcasts of A for MR·NV fused multiply-adds. Nothing is packed, and
 * the epilogue (alpha, and plain SGD's W += (−lr)·∇W with beta = 1) is
 * applied to the tile in registers; an optimizer's step is applied to each
 * panel of 48 rows of ∇W just made, while it is in cache (`after`).
 *
 * C[i, j] does not depend on where (i, j) falls: it starts at 0, takes the
 * p in order, one fused multiply-add each (lanes past n masked), then the
 * same epilogue. So a product cut into calls gives the bits of the whole
 * call, for any number of threads.
 *
 * float32 only, AVX-512F only, chosen at run time (kernels.h); where it is
 * used instead of the BLAS is decided by shape (_blas.pxd's gemm, with the
 * measurements). */
#include "outer.h"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>

#pragma GCC push_options
#pragma GCC target("avx512f")

#define MR 6
#define NV 4
#define W 16

/* One tile: C[0:mr, 0:nv·16] (the last vector masked by `last`); mr <= MR
 * and nv <= NV are constants where it is inlined, and the unrolling keeps
 * the accumulators in registers (without it gcc 12 spills them). */
static inline __attribute__((always_inline)) void tile(
    const int mr, const int nv, const __mmask16 last, const ptrdiff_t k, const float alpha,
    const float *a, const ptrdiff_t sa_i, const ptrdiff_t sa_p, const float *b,
    const ptrdiff_t ldb, const float beta, float *c, const ptrdiff_t ldc)
{
    __m512 acc[MR][NV], y[NV];
    _Pragma("GCC unroll 8") for (int i = 0; i < mr; ++i)
        _Pragma("GCC unroll 8") for (int v = 0; v < nv; ++v)
            acc[i][v] = _mm512_setzero_ps();
    for (ptrdiff_t p = 0; p < k; ++p) {
        const float *bp = b + p * ldb;
        _Pragma("GCC unroll 8") for (int v = 0; v + 1 < nv; ++v)
            y[v] = _mm512_loadu_ps(bp + v * W);
        y[nv - 1] = _mm512_maskz_loadu_ps(last, bp + (nv - 1) * W);
        _Pragma("GCC unroll 8") for (int i = 0; i < mr; ++i) {
            const __m512 x = _mm512_set1_ps(a[i * sa_i + p * sa_p]);
            _Pragma("GCC unroll 8") for (int v = 0; v < nv; ++v)
                acc[i][v] = _mm512_fmadd_ps(x, y[v], acc[i][v]);
        }
    }
    const __m512 va = _mm512_set1_ps(alpha);
    _Pragma("GCC unroll 8") for (int i = 0; i < mr; ++i)
        _Pragma("GCC unroll 8") for (int v = 0; v < nv; ++v) {
            float *cv = c + i * ldc + v * W;
            const __mmask16 m = v + 1 < nv ? (__mmask16)0xFFFF : last;
            const __m512 r = beta == 0 ? _mm512_mul_ps(va, acc[i][v])
                : _mm512_fmadd_ps(va, acc[i][v], _mm512_maskz_loadu_ps(m, cv));
            _mm512_mask_storeu_ps(cv, m, r);
        }
}

/* All tiles of the columns j .. j + NVC·16 - 1 (NVC a constant): MR rows
 * at a time, then the last m % MR */
#define TILE_AT(MRC, NVC) \
    tile(MRC, NVC, last, k, alpha, a + i * sa_i, sa_i, sa_p, b + j, ldb, beta, c + i * ldc + j, ldc)
#define ROWS(NVC)                                                                          \
    do {                                                                                   \
        ptrdiff_t i = 0;                                                                   \
        for (; i + MR <= m; i += MR)                                                       \
            TILE_AT(MR, NVC);                                                              \
        switch (m - i) {                                                                   \
        case 1: TILE_AT(1, NVC); break;                                                    \
        case 2: TILE_AT(2, NVC); break;                                                    \
        case 3: TILE_AT(3, NVC); break;                                                    \
        case 4: TILE_AT(4, NVC); break;                                                    \
        case 5: TILE_AT(5, NVC); break;                                                    \
        default: break;                                                                    \
        }                                                                                  \
    } while (0)

/* C[0:m] with columns in blocks of NV vectors (a block's rows of B stay in
 * cache while its tiles go by), then the last n % (NV·16) in 1 to NV */
static void panel(int trans_a, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                  const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb, float beta,
                  float *c, ptrdiff_t ldc)
{
    const ptrdiff_t sa_i = trans_a ? 1 : lda, sa_p = trans_a ? lda : 1;
    __mmask16 last = 0xFFFF;
    ptrdiff_t j = 0;
    for (; j + NV * W <= n; j += NV * W)
        ROWS(NV);
    if (j == n)
        return;
    const ptrdiff_t vectors = (n - j + W - 1) / W, tail = (n - j) - (vectors - 1) * W;
    last = (__mmask16)((1u << tail) - 1);
    switch (vectors) {
    case 1: ROWS(1); break;
    case 2: ROWS(2); break;
    case 3: ROWS(3); break;
    default: ROWS(4); break;
    }
}

/* With `after`, panels of PANEL rows of C, each handed to it when made
 * (its rows in L2: the optimizer's step on them then finds them there) */
#define PANEL (8 * MR)

void fastbp_souter(int trans_a, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                   const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb, float beta,
                   float *c, ptrdiff_t ldc, fastbp_rows_fn after, void *ctx)
{
    if (!after) {
        panel(trans_a, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    for (ptrdiff_t i = 0; i < m; i += PANEL) {
        const ptrdiff_t rows = m - i < PANEL ? m - i : PANEL;
        panel(trans_a, rows, n, k, alpha, a + i * (trans_a ? 1 : lda), lda, b, ldb, beta,
              c + i * ldc, ldc);
        after(ctx, i, rows);
    }
}

#pragma GCC pop_options

#else /* not x86-64 GCC: the core calls the BLAS for every product */

void fastbp_souter(int trans_a, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                   const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb, float beta,
                   float *c, ptrdiff_t ldc, fastbp_rows_fn after, void *ctx)
{
    (void)trans_a, (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)lda, (void)b;
    (void)ldb, (void)beta, (void)c, (void)ldc, (void)after, (void)ctx;
}

#endif
