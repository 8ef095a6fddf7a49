/* outer.h: the backward products as sums of rows (see outer.c).
 *
 *   fastbp_souter   C (m, n) = alpha·op(A)·B + beta·C, row-major with leading
 *                   dimensions, op(A) = Aᵀ (trans_a) or A, (m, k); B (k, n)
 *                   not transposed; beta 0 (C not read) or 1. C[i, j] is
 *                   the sum of op(A)[i, p]·B[p, j] over p in order, computed
 *                   the same way wherever (i, j) falls in a call, so the
 *                   result does not depend on how the product is cut.
 *                   With `after`, after(ctx, i, rows) is called as soon
 *                   as rows i:i+rows of C are made, each row once (the
 *                   optimizer's step on a panel of ∇W, in cache)
 *   fastbp_?outer_abt
 *                   the forward product C (m, n) = σ(A (m, k) · B (n, k)ᵀ + b),
 *                   B's rows packed by blocks into `pack` (k·64 floats, k·32
 *                   doubles: a buffer of the caller's thread); C[i, j] the
 *                   sum of A[i, p]·B[j, p] over p in order, the same
 *                   wherever (i, j) falls in a call, then + bias[j] and σ:
 *                   FASTBP_RELU, FASTBP_LEAKY_RELU, or none (any other
 *                   code); with bias NULL, neither. With nonfinite (not
 *                   NULL), *nonfinite = whether any A·Bᵀ (before the bias)
 *                   is NaN or ±inf: it is in every column of a row of A that
 *                   holds a NaN or ±inf (x·w is NaN or ±inf for any w, 0
 *                   included, and so is any sum with it), and where a
 *                   finite row's sum overflows
 */
#ifndef FASTBP_OUTER_H
#define FASTBP_OUTER_H

#include <stddef.h>

#include "kernels.h" /* where it runs, and the switch */

typedef void (*fastbp_rows_fn)(void *ctx, ptrdiff_t i, ptrdiff_t rows);

void fastbp_souter(int trans_a, ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, float alpha,
                   const float *a, ptrdiff_t lda, const float *b, ptrdiff_t ldb, float beta,
                   float *c, ptrdiff_t ldc, fastbp_rows_fn after, void *ctx);

void fastbp_souter_abt(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t lda,
                       const float *b, ptrdiff_t ldb, float *c, ptrdiff_t ldc, float *pack,
                       const float *bias, int act, int *nonfinite);
void fastbp_douter_abt(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const double *a, ptrdiff_t lda,
                       const double *b, ptrdiff_t ldb, double *c, ptrdiff_t ldc, double *pack,
                       const double *bias, int act, int *nonfinite);

#endif
