/* finite.c: see finite.h. */
#include <stdint.h>
#include <string.h>

#include "clones.h"
#include "finite.h"

#define ALL_FINITE(T, BITS, EXPONENT, NAME)                                \
    FASTBP_CLONES int NAME(const T *x, ptrdiff_t n)                        \
    {                                                                      \
        BITS bad = 0;                                                      \
        for (ptrdiff_t i = 0; i < n; ++i) {                                \
            BITS bits;                                                     \
            memcpy(&bits, x + i, sizeof bits);                             \
            bad |= (BITS)((bits & (EXPONENT)) == (EXPONENT));              \
        }                                                                  \
        return bad == 0;                                                   \
    }

ALL_FINITE(double, uint64_t, 0x7FF0000000000000ULL, fastbp_dall_finite)
ALL_FINITE(float, uint32_t, 0x7F800000U, fastbp_sall_finite)
