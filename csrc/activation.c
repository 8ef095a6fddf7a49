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

#define MUL_GRAD(T, NAME)                                                                  \
    FASTBP_CLONES void NAME(T *restrict d, const T *restrict a, ptrdiff_t n, int act)      \
    {                                                                                      \
        const T slope = (T)FASTBP_LEAKY_SLOPE;                                             \
        ptrdiff_t i;                                                                       \
        switch (act) {                                                                     \
        case FASTBP_SIGMOID:                                                               \
            for (i = 0; i < n; ++i)                                                        \
                d[i] *= a[i] * (1 - a[i]);                                                 \
            break;                                                                         \
        case FASTBP_TANH:                                                                  \
            for (i = 0; i < n; ++i)                                                        \
                d[i] *= 1 - a[i] * a[i];                                                   \
            break;                                                                         \
        case FASTBP_RELU:                                                                  \
            for (i = 0; i < n; ++i)                                                        \
                d[i] *= a[i] > 0 ? (T)1 : (T)0;                                            \
            break;                                                                         \
        case FASTBP_LEAKY_RELU:                                                            \
            for (i = 0; i < n; ++i)                                                        \
                d[i] *= a[i] > 0 ? (T)1 : slope;                                           \
            break;                                                                         \
        default: /* identity: σ' = 1 */                                                    \
            break;                                                                         \
        }                                                                                  \
    }

MUL_GRAD(double, fastbp_dmul_grad)
MUL_GRAD(float, fastbp_smul_grad)
