/* outer.c: products C = alpha·op(A)·B + beta·C as sums of rows of B (see
 * outer.h): the float32 backward products, and the forward product of
 * float32 and float64 with W packed.
 *
 * In both backward products B runs along C's columns in memory: ∇W = δᵀ·a_in
 * (B = a_in, a row per sample) and δ_in = δ·W (B = W, a row per unit). So
 * row i of C is a sum of B's rows, row p scaled by op(A)[i, p]: a tile of
 * MR rows of C and NV vectors of its columns (16 floats or 8 doubles each)
 * is held in 24 registers while p runs over k, each step NV loads of B's
 * row p and MR broadcasts of A for MR·NV fused multiply-adds. Nothing is
 * packed, and the epilogue (alpha, and plain SGD's W += (−lr)·∇W with beta
 * = 1) is applied to the tile in registers; an optimizer's step is applied
 * to each panel of 48 rows of ∇W just made, while it is in cache (`after`).
 * The forward product Z = A·Wᵀ is one of these with B = Wᵀ, which the
 * kernel packs a block of units at a time (fastbp_?outer_abt); its epilogue
 * adds the bias and applies relu or leaky relu in registers, and can tell
 * whether any A·Wᵀ was NaN or ±inf (as it is wherever a row of A is: the
 * finiteness check of the input, at no pass over it).
 *
 * C[i, j] does not depend on where (i, j) falls: it starts at 0, takes the
 * p in order, one fused multiply-add each (lanes past n masked), then the
 * same epilogue. So a product cut into calls gives the bits of the whole
 * call, for any number of threads.
 *
 * AVX-512F only, chosen at run time (kernels.h); where it is used instead
 * of the BLAS or csrc/dot.c is decided by shape (_blas.pxd's gemm and
 * gemm_abt, with the measurements). */
#include "outer.h"

#include "fastbp.h" /* the activation codes */

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>

#pragma GCC push_options
#pragma GCC target("avx512f")

#define MR 6
#define NV 4

/* One tile: C[0:mr, 0:nv·W] (the last vector masked by `last`); mr <= MR
 * and nv <= NV are constants where it is inlined, and the unrolling keeps
 * the accumulators in registers (without it gcc 12 spills them). T: the
 * element type, V its vector, W the lanes, S the intrinsics' suffix, MASK
 * the mask type. */
#define TILE(NAME, T, V, W, S, MASK)                                                       \
    static inline __attribute__((always_inline)) void NAME(                                \
        const int mr, const int nv, const MASK last, const ptrdiff_t k, const T alpha,     \
        const T *a, const ptrdiff_t sa_i, const ptrdiff_t sa_p, const T *b,                \
        const ptrdiff_t ldb, const T beta, T *c, const ptrdiff_t ldc, const T *bias,       \
        const int act, int *nonfinite)                                                     \
    {                                                                                      \
        V acc[MR][NV], y[NV];                                                              \
        MASK bad = 0;                                                                      \
        _Pragma("GCC unroll 8") for (int i = 0; i < mr; ++i)                               \
            _Pragma("GCC unroll 8") for (int v = 0; v < nv; ++v)                           \
                acc[i][v] = _mm512_setzero_##S();                                          \
        for (ptrdiff_t p = 0; p < k; ++p) {                                                \
            const T *bp = b + p * ldb;                                                     \
            _Pragma("GCC unroll 8") for (int v = 0; v + 1 < nv; ++v)                       \
                y[v] = _mm512_loadu_##S(bp + v * W);                                       \
            y[nv - 1] = _mm512_maskz_loadu_##S(last, bp + (nv - 1) * W);                   \
            _Pragma("GCC unroll 8") for (int i = 0; i < mr; ++i) {                         \
                const V x = _mm512_set1_##S(a[i * sa_i + p * sa_p]);                       \
                _Pragma("GCC unroll 8") for (int v = 0; v < nv; ++v)                       \
                    acc[i][v] = _mm512_fmadd_##S(x, y[v], acc[i][v]);                      \
            }                                                                              \
        }                                                                                  \
        const V va = _mm512_set1_##S(alpha), zero = _mm512_setzero_##S();                  \
        const V slope = _mm512_set1_##S((T)FASTBP_LEAKY_SLOPE);                            \
        _Pragma("GCC unroll 8") for (int i = 0; i < mr; ++i)                               \
            _Pragma("GCC unroll 8") for (int v = 0; v < nv; ++v) {                         \
                T *cv = c + i * ldc + v * W;                                               \
                const MASK m = v + 1 < nv ? (MASK)~0u : last;                              \
                V r = beta == 0 ? _mm512_mul_##S(va, acc[i][v])                            \
                    : _mm512_fmadd_##S(va, acc[i][v], _mm512_maskz_loadu_##S(m, cv));      \
                if (nonfinite) /* r − r is NaN where r is NaN or ±inf, else 0 */           \
                    bad |= m & _mm512_cmp_##S##_mask(_mm512_sub_##S(r, r), zero,           \
                                                     _CMP_UNORD_Q);                        \
                if (bias) { /* _activations.pxd's bias_activate, in registers */            \
                    r = _mm512_add_##S(r, _mm512_maskz_loadu_##S(m, bias + v * W));        \
                    if (act == FASTBP_RELU) /* z > 0 ? z : 0 */                            \
                        r = _mm512_maskz_mov_##S(_mm512_cmp_##S##_mask(r, zero, _CMP_GT_OQ), \
                                                 r);                                       \
                    else if (act == FASTBP_LEAKY_RELU) /* z > 0 ? z : slope·z */           \
                        r = _mm512_mask_mov_##S(_mm512_mul_##S(slope, r),                  \
                                                _mm512_cmp_##S##_mask(r, zero, _CMP_GT_OQ), \
                                                r);                                        \
                }                                                                          \
                _mm512_mask_storeu_##S(cv, m, r);                                          \
            }                                                                              \
        if (bad)                                                                           \
            *nonfinite = 1;                                                                \
    }

TILE(tile_s, float, __m512, 16, ps, __mmask16)
TILE(tile_d, double, __m512d, 8, pd, __mmask8)

/* All tiles of the columns j .. j + NVC·W - 1 (NVC a constant): MR rows
 * at a time, then the last m % MR */
#define TILE_AT(TILE_FN, MRC, NVC)                                                         \
    TILE_FN(MRC, NVC, last, k, alpha, a + i * sa_i, sa_i, sa_p, b + j, ldb, beta,          \
            c + i * ldc + j, ldc, bias ? bias + j : NULL, act, nonfinite)
#define ROWS(TILE_FN, NVC)                                                                 \
    do {                                                                                   \
        ptrdiff_t i = 0;                                                                   \
        for (; i + MR <= m; i += MR)                                                       \
            TILE_AT(TILE_FN, MR, NVC);                                                     \
        switch (m - i) {                                                                   \
        case 1: TILE_AT(TILE_FN, 1, NVC); break;                                           \
        case 2: TILE_AT(TILE_FN, 2, NVC); break;                                           \
        case 3: TILE_AT(TILE_FN, 3, NVC); break;                                           \
        case 4: TILE_AT(TILE_FN, 4, NVC); break;                                           \
        case 5: TILE_AT(TILE_FN, 5, NVC); break;                                           \
        default: break;                                                                    \
        }                                                                                  \
    } while (0)

/* C[0:m] with columns in blocks of NV vectors (a block's rows of B stay in
 * cache while its tiles go by), then the last n % (NV·W) in 1 to NV; bias
 * (NULL: none), act (FASTBP_RELU, FASTBP_LEAKY_RELU or none) and nonfinite
 * (NULL: not looked for) as in fastbp_?outer_abt */
#define PANEL(NAME, T, W, MASK, TILE_FN)                                                   \
    static void NAME(int trans_a, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, T alpha,          \
                     const T *a, ptrdiff_t lda, const T *b, ptrdiff_t ldb, T beta, T *c,   \
                     ptrdiff_t ldc, const T *bias, int act, int *nonfinite)                \
    {                                                                                      \
        const ptrdiff_t sa_i = trans_a ? 1 : lda, sa_p = trans_a ? lda : 1;                \
        MASK last = (MASK)~0u;                                                             \
        ptrdiff_t j = 0;                                                                   \
        for (; j + NV * W <= n; j += NV * W)                                               \
            ROWS(TILE_FN, NV);                                                             \
        if (j == n)                                                                        \
            return;                                                                        \
        const ptrdiff_t vectors = (n - j + W - 1) / W, tail = (n - j) - (vectors - 1) * W; \
        last = (MASK)((1u << tail) - 1);                                                   \
        switch (vectors) {                                                                 \
        case 1: ROWS(TILE_FN, 1); break;                                                   \
        case 2: ROWS(TILE_FN, 2); break;                                                   \
        case 3: ROWS(TILE_FN, 3); break;                                                   \
        default: ROWS(TILE_FN, 4); break;                                                  \
        }                                                                                  \
    }

PANEL(panel_s, float, 16, __mmask16, tile_s)
PANEL(panel_d, double, 8, __mmask8, tile_d)

/* With `after`, panels of PANEL_ROWS rows of C, each handed to it when made
 * (its rows in L2: the optimizer's step on them then finds them there) */
#define PANEL_ROWS (8 * MR)

void fastbp_souter(int trans_a, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                   const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb, float beta,
                   float *c, ptrdiff_t ldc, fastbp_rows_fn after, void *ctx)
{
    if (!after) {
        panel_s(trans_a, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, NULL, FASTBP_IDENTITY, NULL);
        return;
    }
    for (ptrdiff_t i = 0; i < m; i += PANEL_ROWS) {
        const ptrdiff_t rows = m - i < PANEL_ROWS ? m - i : PANEL_ROWS;
        panel_s(trans_a, rows, n, k, alpha, a + i * (trans_a ? 1 : lda), lda, b, ldb, beta,
                c + i * ldc, ldc, NULL, FASTBP_IDENTITY, NULL);
        after(ctx, i, rows);
    }
}

/* The forward product C = A·Bᵀ: B's rows (units) are packed NV·W at a time
 * into the columns of `pack` (k rows of NV·W), transposed by blocks of W×W
 * in registers, then the block's tiles run over all of A's rows. Packing a
 * block costs about a pass over its k·NV·W weights; the tiles then beat
 * the dot products of dot.c by skipping their lane sums (see _blas.pxd). */
static inline __attribute__((always_inline)) void transpose16_s(
    const float *b, ptrdiff_t ldb, float *t, ptrdiff_t ldt, int rows, int cols)
{
    __m512 r[16], s[16];
    const __mmask16 in = (__mmask16)((1u << cols) - 1), out = (__mmask16)((1u << rows) - 1);
    for (int i = 0; i < 16; ++i)
        r[i] = i < rows ? _mm512_maskz_loadu_ps(in, b + i * ldb) : _mm512_setzero_ps();
    for (int i = 0; i < 16; i += 2) { /* pairs of rows, 32-bit elements interleaved */
        s[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        s[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) { /* fours of rows, 64-bit pairs interleaved */
        r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(s[i]), _mm512_castps_pd(s[i + 2])));
        r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(s[i]), _mm512_castps_pd(s[i + 2])));
        r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(s[i + 1]), _mm512_castps_pd(s[i + 3])));
        r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(s[i + 1]), _mm512_castps_pd(s[i + 3])));
    }
    for (int c = 0; c < 4; ++c) { /* r[4q + c]: rows 4q..4q+3 of columns c, c+4, c+8, c+12 */
        const __m512 b0 = _mm512_shuffle_f32x4(r[c], r[4 + c], 0x88);
        const __m512 b1 = _mm512_shuffle_f32x4(r[c], r[4 + c], 0xDD);
        const __m512 b2 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0x88);
        const __m512 b3 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0xDD);
        s[c] = _mm512_shuffle_f32x4(b0, b2, 0x88);
        s[c + 8] = _mm512_shuffle_f32x4(b0, b2, 0xDD);
        s[c + 4] = _mm512_shuffle_f32x4(b1, b3, 0x88);
        s[c + 12] = _mm512_shuffle_f32x4(b1, b3, 0xDD);
    }
    for (int j = 0; j < cols; ++j)
        _mm512_mask_storeu_ps(t + j * ldt, out, s[j]);
}

static inline __attribute__((always_inline)) void transpose8_d(
    const double *b, ptrdiff_t ldb, double *t, ptrdiff_t ldt, int rows, int cols)
{
    __m512d r[8], s[8];
    const __mmask8 in = (__mmask8)((1u << cols) - 1), out = (__mmask8)((1u << rows) - 1);
    for (int i = 0; i < 8; ++i)
        r[i] = i < rows ? _mm512_maskz_loadu_pd(in, b + i * ldb) : _mm512_setzero_pd();
    for (int i = 0; i < 8; i += 2) { /* pairs of rows interleaved */
        s[i] = _mm512_unpacklo_pd(r[i], r[i + 1]);
        s[i + 1] = _mm512_unpackhi_pd(r[i], r[i + 1]);
    }
    for (int c = 0; c < 2; ++c) { /* s[2q + c]: rows 2q, 2q+1 of columns c, c+2, c+4, c+6 */
        const __m512d b0 = _mm512_shuffle_f64x2(s[c], s[2 + c], 0x88);
        const __m512d b1 = _mm512_shuffle_f64x2(s[c], s[2 + c], 0xDD);
        const __m512d b2 = _mm512_shuffle_f64x2(s[4 + c], s[6 + c], 0x88);
        const __m512d b3 = _mm512_shuffle_f64x2(s[4 + c], s[6 + c], 0xDD);
        r[c] = _mm512_shuffle_f64x2(b0, b2, 0x88);
        r[c + 4] = _mm512_shuffle_f64x2(b0, b2, 0xDD);
        r[c + 2] = _mm512_shuffle_f64x2(b1, b3, 0x88);
        r[c + 6] = _mm512_shuffle_f64x2(b1, b3, 0xDD);
    }
    for (int j = 0; j < cols; ++j)
        _mm512_mask_storeu_pd(t + j * ldt, out, r[j]);
}

#define OUTER_ABT(NAME, T, W, PANEL_FN, TRANSPOSE_FN)                                      \
    void NAME(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const T *a, ptrdiff_t lda,            \
              const T *b, ptrdiff_t ldb, T *c, ptrdiff_t ldc, T *pack, const T *bias,      \
              int act, int *nonfinite)                                                     \
    {                                                                                      \
        if (nonfinite)                                                                     \
            *nonfinite = 0;                                                                \
        for (ptrdiff_t j = 0; j < n; j += NV * W) {                                        \
            const ptrdiff_t units = n - j < NV * W ? n - j : NV * W;                       \
            for (ptrdiff_t u = 0; u < units; u += W)                                       \
                for (ptrdiff_t p = 0; p < k; p += W)                                       \
                    TRANSPOSE_FN(b + (j + u) * ldb + p, ldb, pack + p * NV * W + u,        \
                                 NV * W, units - u < W ? (int)(units - u) : W,             \
                                 k - p < W ? (int)(k - p) : W);                            \
            PANEL_FN(0, m, units, k, 1, a, lda, pack, NV * W, 0, c + j, ldc,               \
                     bias ? bias + j : NULL, act, nonfinite);                              \
        }                                                                                  \
    }

OUTER_ABT(fastbp_souter_abt, float, 16, panel_s, transpose16_s)
OUTER_ABT(fastbp_douter_abt, double, 8, panel_d, transpose8_d)

#pragma GCC pop_options

#else /* not x86-64 GCC: the core calls the BLAS for every product */

void fastbp_souter(int trans_a, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                   const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb, float beta,
                   float *c, ptrdiff_t ldc, fastbp_rows_fn after, void *ctx)
{
    (void)trans_a, (void)m, (void)n, (void)k, (void)alpha, (void)a, (void)lda, (void)b;
    (void)ldb, (void)beta, (void)c, (void)ldc, (void)after, (void)ctx;
}

void fastbp_souter_abt(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t lda,
                       const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, float *pack,
                       const float *bias, int act, int *nonfinite)
{
    (void)m, (void)n, (void)k, (void)a, (void)lda, (void)b, (void)ldb, (void)c, (void)ldc;
    (void)pack, (void)bias, (void)act, (void)nonfinite;
}

void fastbp_douter_abt(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const double *a, ptrdiff_t lda,
                       const double *b, ptrdiff_t ldb, double *c, ptrdiff_t ldc, double *pack,
                       const double *bias, int act, int *nonfinite)
{
    (void)m, (void)n, (void)k, (void)a, (void)lda, (void)b, (void)ldb, (void)c, (void)ldc;
    (void)pack, (void)bias, (void)act, (void)nonfinite;
}

#endif
