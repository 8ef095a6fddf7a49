/* activation.c: the element-wise activation loops (see activation.h). */
#include "activation.h"
#include "clones.h"
#include "fastbp.h"

/* a may be z (in place): each a[i] is made from z[i] alone, so "ivdep"
 * (no dependence between iterations) holds and the loop needs no overlap
 * check, where `restrict` would not be true. */
#define IVDEP _Pragma("GCC ivdep")

/* σ(z) as _activations.pxd's _sigmoid: e^x of x = −|z| ≤ 0 only, no overflow */
#define SIGMOID(T, NAME, EXP)                                                              \
    FASTBP_CLONES void NAME(T *a, const T *z, ptrdiff_t n)                                 \
    {                                                                                      \
        IVDEP for (ptrdiff_t i = 0; i < n; ++i) {                                          \
            const T e = EXP(z[i] >= 0 ? -z[i] : z[i]);                                     \
            a[i] = (z[i] >= 0 ? (T)1 : e) / (1 + e);                                       \
        }                                                                                  \
    }

#define EXP_SHIFT(T, NAME, EXP)                                                            \
    FASTBP_CLONES void NAME(T *a, const T *z, ptrdiff_t n, T m)                            \
    {                                                                                      \
        IVDEP for (ptrdiff_t i = 0; i < n; ++i)                                            \
            a[i] = EXP(z[i] - m);                                                          \
    }

SIGMOID(double, fastbp_dsigmoid, fastbp_exp)
SIGMOID(float, fastbp_ssigmoid, fastbp_expf)
EXP_SHIFT(double, fastbp_dexp_shift, fastbp_exp)
EXP_SHIFT(float, fastbp_sexp_shift, fastbp_expf)

/* One loop per activation, σ' an expression in x = a (or a·keep, the unscaled
 * activation of a unit dropout kept); with kept, d = 0 where the unit was
 * dropped and d·(scale·σ') where kept (the order the scalar code rounds in). */
#define MUL_GRAD_LOOPS(T, GRAD)                                                            \
    if (kept == NULL) {                                                                    \
        for (i = 0; i < n; ++i) {                                                          \
            const T x = a[i];                                                              \
            d[i] *= (GRAD);                                                                \
        }                                                                                  \
    } else {                                                                               \
        for (i = 0; i < n; ++i) {                                                          \
            const T x = a[i] * keep;                                                       \
            d[i] = kept[i] ? d[i] * (scale * (GRAD)) : (T)0;                               \
        }                                                                                  \
    }

#define MUL_GRAD(T, NAME)                                                                  \
    FASTBP_CLONES void NAME(T *restrict d, const T *restrict a,                            \
                            const unsigned char *restrict kept, ptrdiff_t n, int act,      \
                            T keep, T scale)                                               \
    {                                                                                      \
        const T slope = (T)FASTBP_LEAKY_SLOPE;                                             \
        ptrdiff_t i;                                                                       \
        switch (act) {                                                                     \
        case FASTBP_SIGMOID:                                                               \
            MUL_GRAD_LOOPS(T, x * (1 - x));                                                \
            break;                                                                         \
        case FASTBP_TANH:                                                                  \
            MUL_GRAD_LOOPS(T, 1 - x * x);                                                  \
            break;                                                                         \
        case FASTBP_RELU:                                                                  \
            MUL_GRAD_LOOPS(T, x > 0 ? (T)1 : (T)0);                                        \
            break;                                                                         \
        case FASTBP_LEAKY_RELU:                                                            \
            MUL_GRAD_LOOPS(T, x > 0 ? (T)1 : slope);                                       \
            break;                                                                         \
        default: /* identity: σ' = 1 */                                                    \
            MUL_GRAD_LOOPS(T, (T)1);                                                       \
            break;                                                                         \
        }                                                                                  \
    }

MUL_GRAD(double, fastbp_dmul_grad)
MUL_GRAD(float, fastbp_smul_grad)
