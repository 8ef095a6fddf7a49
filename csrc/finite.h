/* finite.h: are all n numbers finite? The input check of every call into
 * the core, so it costs a pass over X and no allocation: a number is NaN
 * or ±inf exactly when its exponent bits are all ones, tested on the bits
 * (an integer OR over the array, vectorized; clones.h). */
#ifndef FASTBP_FINITE_H
#define FASTBP_FINITE_H

#include <stddef.h>

int fastbp_dall_finite(const double *x, ptrdiff_t n);
int fastbp_sall_finite(const float *x, ptrdiff_t n);

#endif
