/* dot.c: the forward product Z = A·Bᵀ as dot products along rows (see dot.h).
 *
 * Both operands of the forward product run along k in memory (a row of A is
 * a sample's inputs, a row of B a unit's weights), so every C[i, j] is the
 * dot product of two contiguous rows. A tile of MR rows of A and NR rows of
 * B is read a vector at a time (16 floats, 8 doubles), each of its MR·NR
 * pairs accumulates products lane by lane in a register of its own, and the
 * lanes are summed at the end. Nothing is packed (a BLAS copies both
 * operands into panels at each call, which the small products of a batch
 * feel most). MR = 4, NR = 5: 20 accumulators and 9 operands in the 32
 * vector registers, 9 loads for 20 fused multiply-adds.
 *
 * C[i, j] does not depend on where (i, j) falls in the tiles or in the call:
 * its lanes see k in the same order, the last partial vector masked, and
 * are summed in the same tree. So a product cut into calls by rows or by
 * units gives the bits of the whole call, for any number of threads.
 *
 * AVX-512F only, chosen at run time (fastbp_kernels_ready, kernels.h);
 * elsewhere the core calls the BLAS. Measured against scipy-openblas32 0.3.34 (1 thread, Zen 5;
 * see _blas.pxd). */
#include "dot.h"

int fastbp_kernels_on = 0; /* for outer.c's kernels too */

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#include <immintrin.h>

int fastbp_kernels_ready(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}

/* Only the kernels below are compiled for AVX-512: fastbp_kernels_ready runs on
 * any x86-64. */
#pragma GCC push_options
#pragma GCC target("avx512f")

#define MR 4
#define NR 5

/* The lane sums of 4 accumulators as 4 values, in a fixed tree: halves of
 * the 4 registers added pairwise (blocks of 128 bits), then within blocks. */
static inline __m128 sum4_ps(__m512 a, __m512 b, __m512 c, __m512 d)
{
    const __m512 ab = _mm512_add_ps(_mm512_shuffle_f32x4(a, b, 0x44),
                                    _mm512_shuffle_f32x4(a, b, 0xEE));
    const __m512 cd = _mm512_add_ps(_mm512_shuffle_f32x4(c, d, 0x44),
                                    _mm512_shuffle_f32x4(c, d, 0xEE));
    __m512 t = _mm512_add_ps(_mm512_shuffle_f32x4(ab, cd, 0x88),
                             _mm512_shuffle_f32x4(ab, cd, 0xDD));
    t = _mm512_add_ps(t, _mm512_permute_ps(t, 0x4E));
    t = _mm512_add_ps(t, _mm512_permute_ps(t, 0xB1));
    const __m512i first = _mm512_set_epi32(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 12, 8, 4, 0);
    return _mm512_castps512_ps128(_mm512_permutexvar_ps(first, t));
}

static inline __m256d sum4_pd(__m512d a, __m512d b, __m512d c, __m512d d)
{
    const __m512d ab = _mm512_add_pd(_mm512_shuffle_f64x2(a, b, 0x44),
                                     _mm512_shuffle_f64x2(a, b, 0xEE));
    const __m512d cd = _mm512_add_pd(_mm512_shuffle_f64x2(c, d, 0x44),
                                     _mm512_shuffle_f64x2(c, d, 0xEE));
    __m512d t = _mm512_add_pd(_mm512_shuffle_f64x2(ab, cd, 0x88),
                              _mm512_shuffle_f64x2(ab, cd, 0xDD));
    t = _mm512_add_pd(t, _mm512_permute_pd(t, 0x55));
    const __m512i first = _mm512_set_epi64(0, 0, 0, 0, 6, 4, 2, 0);
    return _mm512_castpd512_pd256(_mm512_permutexvar_pd(first, t));
}

/* One tile: C[0:mr, 0:nr] of A (mr rows) and B (nr rows); mr <= MR and
 * nr <= NR are constants where it is inlined. T: the element type, V its
 * vector, W the lanes, S the suffix of the intrinsics, SUM4 and STORE4
 * the 4-way lane sum and its store, MASK the mask type. Every C[i, j] goes
 * through SUM4, so each sum has one tree wherever its column falls. */
#define TILE(NAME, T, V, W, S, SUM4, STORE4, MASK)                                          \
    static inline __attribute__((always_inline)) void NAME(                                \
        const int mr, const int nr, const ptrdiff_t k, const T *a, const ptrdiff_t lda,    \
        const T *b, const ptrdiff_t ldb, T *c, const ptrdiff_t ldc)                        \
    {                                                                                      \
        V acc[MR][NR], x[MR], y[NR];                                                       \
        for (int i = 0; i < mr; ++i)                                                       \
            for (int j = 0; j < nr; ++j)                                                   \
                acc[i][j] = _mm512_setzero_##S();                                          \
        ptrdiff_t p = 0;                                                                   \
        for (; p + W <= k; p += W) {                                                       \
            for (int i = 0; i < mr; ++i)                                                   \
                x[i] = _mm512_loadu_##S(a + i * lda + p);                                  \
            for (int j = 0; j < nr; ++j)                                                   \
                y[j] = _mm512_loadu_##S(b + j * ldb + p);                                  \
            for (int i = 0; i < mr; ++i)                                                   \
                for (int j = 0; j < nr; ++j)                                               \
                    acc[i][j] = _mm512_fmadd_##S(x[i], y[j], acc[i][j]);                   \
        }                                                                                  \
        if (p < k) { /* the last k % W: masked loads read nothing past the rows */         \
            const MASK m = (MASK)((1u << (k - p)) - 1);                                    \
            for (int i = 0; i < mr; ++i)                                                   \
                x[i] = _mm512_maskz_loadu_##S(m, a + i * lda + p);                         \
            for (int j = 0; j < nr; ++j)                                                   \
                y[j] = _mm512_maskz_loadu_##S(m, b + j * ldb + p);                         \
            for (int i = 0; i < mr; ++i)                                                   \
                for (int j = 0; j < nr; ++j)                                               \
                    acc[i][j] = _mm512_fmadd_##S(x[i], y[j], acc[i][j]);                   \
        }                                                                                  \
        for (int i = 0; i < mr; ++i) {                                                     \
            int j = 0;                                                                     \
            for (; j + 4 <= nr; j += 4)                                                    \
                STORE4(c + i * ldc + j,                                                    \
                       SUM4(acc[i][j], acc[i][j + 1], acc[i][j + 2], acc[i][j + 3]));      \
            if (j < nr) { /* the last nr % 4 through the same tree, with zeros */          \
                const V zero = _mm512_setzero_##S();                                       \
                T sums[4];                                                                 \
                STORE4(sums, SUM4(acc[i][j], j + 1 < nr ? acc[i][j + 1] : zero,            \
                                  j + 2 < nr ? acc[i][j + 2] : zero, zero));               \
                for (int q = 0; j + q < nr; ++q)                                           \
                    c[i * ldc + j + q] = sums[q];                                          \
            }                                                                              \
        }                                                                                  \
    }

TILE(tile_s, float, __m512, 16, ps, sum4_ps, _mm_storeu_ps, __mmask16)
TILE(tile_d, double, __m512d, 8, pd, sum4_pd, _mm256_storeu_pd, __mmask8)

/* All tiles of columns j .. j + NRC - 1 (NRC a constant) */
#define ROWS(TILE_FN, NRC)                                                                 \
    do {                                                                                   \
        ptrdiff_t i = 0;                                                                   \
        for (; i + MR <= m; i += MR)                                                       \
            TILE_FN(MR, NRC, k, a + i * lda, lda, b + j * ldb, ldb, c + i * ldc + j, ldc); \
        for (; i < m; ++i)                                                                 \
            TILE_FN(1, NRC, k, a + i * lda, lda, b + j * ldb, ldb, c + i * ldc + j, ldc);  \
    } while (0)

/* Units in blocks of NR (each block's rows of B stay in L1 while the rows of
 * A go by), then the last n % NR. */
#define DOT_ABT(NAME, T, TILE_FN)                                                          \
    void NAME(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const T *a, ptrdiff_t lda,            \
              const T *b, ptrdiff_t ldb, T *c, ptrdiff_t ldc)                              \
    {                                                                                      \
        ptrdiff_t j = 0;                                                                   \
        for (; j + NR <= n; j += NR)                                                       \
            ROWS(TILE_FN, NR);                                                             \
        switch (n - j) {                                                                   \
        case 1: ROWS(TILE_FN, 1); break;                                                   \
        case 2: ROWS(TILE_FN, 2); break;                                                   \
        case 3: ROWS(TILE_FN, 3); break;                                                   \
        case 4: ROWS(TILE_FN, 4); break;                                                   \
        default: break;                                                                    \
        }                                                                                  \
    }

DOT_ABT(fastbp_sdot_abt, float, tile_s)
DOT_ABT(fastbp_ddot_abt, double, tile_d)

#pragma GCC pop_options

#else /* not x86-64 GCC: the core calls the BLAS for every product */

int fastbp_kernels_ready(void) { return 0; }

void fastbp_sdot_abt(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t lda,
                     const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc)
{
    (void)m, (void)n, (void)k, (void)a, (void)lda, (void)b, (void)ldb, (void)c, (void)ldc;
}

void fastbp_ddot_abt(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const double *a, ptrdiff_t lda,
                     const double *b, ptrdiff_t ldb, double *c, ptrdiff_t ldc)
{
    (void)m, (void)n, (void)k, (void)a, (void)lda, (void)b, (void)ldb, (void)c, (void)ldc;
}

#endif
