/* penalty.h: the regularization of an update, over a slice of the flat
 * parameter buffer, for double (d) and float (s):
 *
 *   sum_sq        Σ p², in double (‖W‖² of the L2 term)
 *   add_penalty   g += l2·p + l1·sign(p)          ∂/∂p of λ2/2·‖p‖² + λ1·Σ|p|
 *   shrink        p -= a·p + b·sign(p)            plain SGD's share of it
 *                                                 (a = lr·l2, b = lr·l1)
 *   max_norm_rows each of `rows` rows of p (n_in wide) rescaled to norm c if
 *                 it is longer
 *
 * Loops of independent elements (the norm sums in 8 fixed lanes, so the
 * order is the same on every path), built for AVX-512, AVX2 and the
 * baseline (clones.h).
 */
#ifndef FASTBP_PENALTY_H
#define FASTBP_PENALTY_H

#include <stddef.h>

double fastbp_dsum_sq(const double *p, ptrdiff_t n);
double fastbp_ssum_sq(const float *p, ptrdiff_t n);
void fastbp_dadd_penalty(double *g, const double *p, ptrdiff_t n, double l1, double l2);
void fastbp_sadd_penalty(float *g, const float *p, ptrdiff_t n, double l1, double l2);
void fastbp_dshrink(double *p, ptrdiff_t n, double a, double b);
void fastbp_sshrink(float *p, ptrdiff_t n, double a, double b);
void fastbp_dmax_norm_rows(double *p, ptrdiff_t rows, ptrdiff_t n_in, double c);
void fastbp_smax_norm_rows(float *p, ptrdiff_t rows, ptrdiff_t n_in, double c);

#endif
