/* dropout.c: one row's dropout mask and scaling (see dropout.h). */
#include "clones.h"
#include "dropout.h"

#define DROPOUT_ROW(T, NAME)                                                               \
    FASTBP_CLONES void NAME(T *restrict a, unsigned char *restrict kept, uint64_t row,     \
                            uint64_t layer, ptrdiff_t lo, ptrdiff_t hi, double p,          \
                            double scale_)                                                 \
    {                                                                                      \
        const T scale = (T)scale_;                                                         \
        for (ptrdiff_t j = lo; j < hi; ++j) {                                              \
            const unsigned char k = fastbp_dropout_unit(row, layer, (uint64_t)j) >= p;     \
            kept[j] = k;                                                                   \
            a[j] = k ? a[j] * scale : 0;                                                   \
        }                                                                                  \
    }

DROPOUT_ROW(double, fastbp_ddropout_row)
DROPOUT_ROW(float, fastbp_sdropout_row)
