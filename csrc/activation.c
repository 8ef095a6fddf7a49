/* activation.c: BP2's Hadamard factor (see activation.h). */
#include "activation.h"
#include "clones.h"
#include "fastbp.h"

#define MUL_GRAD(T, NAME)                                                                  \
    FASTBP_CLONES void NAME(T *restrict d, const T *restrict a, ptrdiff_t n, int act)       \
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
        default: /* identity: σ' = 1 */                                                   \
            break;                                                                         \
        }                                                                                  \
    }

MUL_GRAD(double, fastbp_dmul_grad)
MUL_GRAD(float, fastbp_smul_grad)
