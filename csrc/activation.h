/* activation.h: BP2's Hadamard factor over a row, for double (d) and float (s):
 *
 *   mul_grad   d[i] *= σ'(z_i), written in terms of a[i] = σ(z_i)
 *              (sigmoid a(1−a), tanh 1−a², relu [a > 0], leaky relu
 *              1 or FASTBP_LEAKY_SLOPE, identity 1)
 *
 * The same numbers as _activations.pxd's activation_grad, in loops the
 * compiler vectorizes (built for AVX-512, AVX2 and the baseline, clones.h):
 * relu's factor is a select, not a branch, which half the units, off at
 * random, would mispredict.
 */
#ifndef FASTBP_ACTIVATION_H
#define FASTBP_ACTIVATION_H

#include <stddef.h>

void fastbp_dmul_grad(double *d, const double *a, ptrdiff_t n, int act);
void fastbp_smul_grad(float *d, const float *a, ptrdiff_t n, int act);

#endif
