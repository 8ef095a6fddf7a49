/* activation.h: the element-wise activation loops, for double (d) and float (s):
 *
 *   sigmoid    a[i] = σ(z[i]) = 1/(1 + e^−z) (for z < 0: e^z/(1 + e^z))
 *   exp_shift  a[i] = e^(z[i] − m), m ≥ every z[i] (softmax's terms)
 *   mul_grad   d[i] *= σ'(z_i), written in terms of a[i] = σ(z_i)
 *              (sigmoid a(1−a), tanh 1−a², relu [a > 0], leaky relu
 *              1 or FASTBP_LEAKY_SLOPE, identity 1); with dropout's kept
 *              (not NULL), d[i] = 0 where kept[i] is 0, else
 *              d[i]·(scale·σ'(a[i]·keep)), keep = 1 − p, scale = 1/(1 − p)
 *
 * Loops the compiler vectorizes (built for AVX-512, AVX2 and the baseline,
 * clones.h): relu's factor is a select, not a branch, which half the units,
 * off at random, would mispredict; e^x is fastbp_exp below, not libm's
 * (a call per element, which no loop vectorizes). _activations.pxd sends
 * rows of VECTOR_MIN units or more here.
 */
#ifndef FASTBP_ACTIVATION_H
#define FASTBP_ACTIVATION_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* e^x for x ≤ 0 (what the core needs: sigmoid takes e^−|z|, softmax
 * e^(z − max)), within about 1 ulp of the exact value; 0 below −708 (where
 * e^x is under 2^−1021, less than any weight can feel). Branch-free, so a
 * loop of it vectorizes. x = k·ln2 + r with |r| ≤ ln2/2 (ln2 in two parts,
 * k·LN2_HI exact), e^r by its Taylor series to r¹³ (error < 5e-18), times
 * 2^k made in the exponent bits. Float uses the double one: one rounding
 * of a far more exact value. */
static inline double fastbp_exp(double x)
{
    const double log2e = 1.4426950408889634, ln2_hi = 6.93147180369123816490e-01,
                 ln2_lo = 1.90821492927058770002e-10, shift = 6755399441055744.0; /* 1.5·2^52 */
    double t, k, r, r2, r4, r8, p;
    uint64_t bits;
    const int under = x < -708.0;
    x = under ? -708.0 : x;
    t = x * log2e + shift; /* k = round(x·log2 e) in the low bits of t */
    k = t - shift;
    r = (x - k * ln2_hi) - k * ln2_lo;
    /* 1 + r + r²·(c2 + c3·r + … + c13·r¹¹), c_i = 1/i!, by Estrin's scheme:
     * a few dependent steps instead of Horner's twelve */
    r2 = r * r;
    r4 = r2 * r2;
    r8 = r4 * r4;
    p = ((1.0 / 2 + r * (1.0 / 6)) + r2 * (1.0 / 24 + r * (1.0 / 120)))
        + r4 * ((1.0 / 720 + r * (1.0 / 5040)) + r2 * (1.0 / 40320 + r * (1.0 / 362880)));
    p = p + r8 * ((1.0 / 3628800 + r * (1.0 / 39916800))
                  + r2 * (1.0 / 479001600 + r * (1.0 / 6227020800.0)));
    p = 1.0 + (r + r2 * p);
    memcpy(&bits, &t, sizeof bits);
    bits = (bits + 1023) << 52; /* 2^k: k + 1023 in the exponent field */
    memcpy(&t, &bits, sizeof t);
    return under ? 0.0 : p * t;
}

static inline float fastbp_expf(float x) { return (float)fastbp_exp((double)x); }

void fastbp_dsigmoid(double *a, const double *z, ptrdiff_t n);
void fastbp_ssigmoid(float *a, const float *z, ptrdiff_t n);
void fastbp_dexp_shift(double *a, const double *z, ptrdiff_t n, double m);
void fastbp_sexp_shift(float *a, const float *z, ptrdiff_t n, float m);
void fastbp_dmul_grad(double *d, const double *a, const unsigned char *kept, ptrdiff_t n,
                      int act, double keep, double scale);
void fastbp_smul_grad(float *d, const float *a, const unsigned char *kept, ptrdiff_t n,
                      int act, float keep, float scale);

#endif
