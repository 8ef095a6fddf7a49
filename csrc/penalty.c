/* penalty.c: L1/L2 terms and the max-norm constraint (see penalty.h). */
#include <math.h>

#include "clones.h"
#include "penalty.h"

#define SIGN(x) (((x) > 0) - ((x) < 0))

#define PENALTY_FUNCTIONS(T, SUM_SQ, ADD_PENALTY, SHRINK, MAX_NORM_ROWS)                  \
    FASTBP_CLONES double SUM_SQ(const T *restrict p, ptrdiff_t n)                         \
    {                                                                                     \
        double lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                        \
        ptrdiff_t i = 0;                                                                  \
        for (; i + 8 <= n; i += 8)                                                        \
            for (int k = 0; k < 8; ++k)                                                   \
                lane[k] += (double)p[i + k] * (double)p[i + k];                           \
        for (int k = 0; i < n; ++i, ++k)                                                  \
            lane[k] += (double)p[i] * (double)p[i];                                       \
        return ((lane[0] + lane[1]) + (lane[2] + lane[3]))                                \
               + ((lane[4] + lane[5]) + (lane[6] + lane[7]));                             \
    }                                                                                     \
                                                                                          \
    FASTBP_CLONES void ADD_PENALTY(T *restrict g, const T *restrict p, ptrdiff_t n,      \
                                   double l1_, double l2_)                               \
    {                                                                                     \
        const T l1 = (T)l1_, l2 = (T)l2_;                                                 \
        for (ptrdiff_t i = 0; i < n; ++i)                                                 \
            g[i] += l2 * p[i] + l1 * (T)SIGN(p[i]);                                       \
    }                                                                                     \
                                                                                          \
    FASTBP_CLONES void SHRINK(T *restrict p, ptrdiff_t n, double a_, double b_)           \
    {                                                                                     \
        const T a = (T)a_, b = (T)b_;                                                     \
        for (ptrdiff_t i = 0; i < n; ++i)                                                 \
            p[i] -= a * p[i] + b * (T)SIGN(p[i]);                                         \
    }                                                                                     \
                                                                                          \
    FASTBP_CLONES void MAX_NORM_ROWS(T *restrict p, ptrdiff_t rows, ptrdiff_t n_in,      \
                                     double c)                                            \
    {                                                                                     \
        for (ptrdiff_t j = 0; j < rows; ++j) {                                            \
            T *w = p + j * n_in;                                                          \
            const double sq = SUM_SQ(w, n_in);                                            \
            if (sq > c * c) {                                                             \
                const T scale = (T)(c / sqrt(sq));                                        \
                for (ptrdiff_t i = 0; i < n_in; ++i)                                      \
                    w[i] *= scale;                                                        \
            }                                                                             \
        }                                                                                 \
    }

PENALTY_FUNCTIONS(double, fastbp_dsum_sq, fastbp_dadd_penalty, fastbp_dshrink, fastbp_dmax_norm_rows)
PENALTY_FUNCTIONS(float, fastbp_ssum_sq, fastbp_sadd_penalty, fastbp_sshrink, fastbp_smax_norm_rows)
