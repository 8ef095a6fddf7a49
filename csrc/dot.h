/* dot.h: the forward product Z = A·Bᵀ as dot products along rows (see dot.c).
 *
 *   fastbp_?dot_abt      C (m, n) = A (m, k) · B (n, k)ᵀ, row-major with
 *                        leading dimensions; C[i, j] is the dot product of
 *                        row i of A and row j of B, computed the same way
 *                        wherever (i, j) falls in a call, so the result does
 *                        not depend on how the product is cut into calls
 */
#ifndef FASTBP_DOT_H
#define FASTBP_DOT_H

#include <stddef.h>

#include "kernels.h" /* where they run, and the switch */

void fastbp_sdot_abt(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t lda,
                     const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc);
void fastbp_ddot_abt(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const double *a, ptrdiff_t lda,
                     const double *b, ptrdiff_t ldb, double *c, ptrdiff_t ldc);

#endif
