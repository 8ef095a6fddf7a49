/* finite.c: see finite.h. */
#include <stdint.h>
#include <string.h>

#include "clones.h"
#include "finite.h"

FASTBP_CLONES int fastbp_dall_finite(const double *x, ptrdiff_t n)
{
    const uint64_t exponent = 0x7FF0000000000000ULL;
    uint64_t bad = 0;
    for (ptrdiff_t i = 0; i < n; ++i) {
        uint64_t bits;
        memcpy(&bits, x + i, sizeof bits);
        bad |= (uint64_t)((bits & exponent) == exponent);
    }
    return bad == 0;
}

FASTBP_CLONES int fastbp_sall_finite(const float *x, ptrdiff_t n)
{
    const uint32_t exponent = 0x7F800000U;
    uint32_t bad = 0;
    for (ptrdiff_t i = 0; i < n; ++i) {
        uint32_t bits;
        memcpy(&bits, x + i, sizeof bits);
        bad |= (uint32_t)((bits & exponent) == exponent);
    }
    return bad == 0;
}
