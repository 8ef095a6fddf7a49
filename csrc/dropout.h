/* dropout.h: the keep/drop decision of inverted dropout, from a counter-based
 * generator keyed by (seed, epoch, sample, layer, unit): no state, so a run is
 * reproducible and the mask of a sample does not depend on the thread count
 * or on which batch the sample falls in. DP-SGD's Gaussian noise comes from
 * the same generator, keyed by (seed, step, parameter). fastbp.reference
 * computes the same hash in NumPy (uint64 arithmetic wraps the same way).
 */
#ifndef FASTBP_DROPOUT_H
#define FASTBP_DROPOUT_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

/* splitmix64's finaliser: a bijective mix of 64 bits */
static inline uint64_t fastbp_mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ULL;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
    return x ^ (x >> 31);
}

/* The part of the key that one sample's units share: hashed once a row. */
static inline uint64_t fastbp_dropout_row(uint64_t seed, uint64_t epoch, uint64_t sample)
{
    return fastbp_mix64(fastbp_mix64(fastbp_mix64(seed) ^ epoch) ^ sample);
}

/* A uniform number in [0, 1) for one unit of the row keyed `row`. */
static inline double fastbp_dropout_unit(uint64_t row, uint64_t layer, uint64_t unit)
{
    uint64_t h = fastbp_mix64(row ^ ((layer << 32) | unit));
    return (double)(h >> 11) * (1.0 / 9007199254740992.0); /* 53 bits / 2^53 */
}

/* A uniform number in [0, 1) for one unit of one sample: keep the unit when
 * it is >= the drop rate p. */
static inline double fastbp_dropout_uniform(uint64_t seed, uint64_t epoch, uint64_t sample,
                                            uint64_t layer, uint64_t unit)
{
    return fastbp_dropout_unit(fastbp_dropout_row(seed, epoch, sample), layer, unit);
}

/* Row i's units lo:hi of a layer, a[lo:hi] and kept[lo:hi]: kept[j] = 1
 * where the unit stays (its uniform >= p) and a[j] *= scale, else a[j] = 0.
 * In dropout.c, built for AVX-512, AVX2 and the baseline (clones.h). */
void fastbp_ddropout_row(double *a, unsigned char *kept, uint64_t row, uint64_t layer,
                         ptrdiff_t lo, ptrdiff_t hi, double p, double scale);
void fastbp_sdropout_row(float *a, unsigned char *kept, uint64_t row, uint64_t layer,
                         ptrdiff_t lo, ptrdiff_t hi, double p, double scale);

/* A standard normal number for element `index` of DP-SGD's noise at optimizer
 * step `step` (Box-Muller over two uniforms of the same generator; 1 − u1 is
 * in (0, 1], so its log is finite). */
static inline double fastbp_dp_normal(uint64_t seed, uint64_t step, uint64_t index)
{
    double u1 = fastbp_dropout_uniform(seed, step, 0, 0, index);
    double u2 = fastbp_dropout_uniform(seed, step, 0, 1, index);
    return sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2);
}

#endif
