/* fastbp.h: what every C file of fastbp's compiled core shares.
 *
 * Shape conventions (row-major, C order, like NumPy):
 *   activations A  (n, width)          one row per sample of the batch
 *   weights     W  (n_out, n_in)       Nielsen's w[j][k]: input k -> unit j
 *   deltas      D  (n, n_out)          dC/dz of one layer, one row per sample
 * Matrices are passed as a pointer plus a row stride and a column stride
 * (BLIS style), so one routine serves A, Aᵀ, B and Bᵀ without copies.
 *
 * Compiled code returns status codes; it never prints, exits or allocates
 * in a hot loop. The Python side validates inputs once, before calling.
 */
#ifndef FASTBP_H
#define FASTBP_H

#include <stddef.h>

#define FASTBP_OK 0
#define FASTBP_EINVAL 1 /* a dimension or stride the kernels cannot take */

/* Alignment of every work buffer handed to the kernels, in bytes (one
 * AVX-512 register; also a cache line). */
#define FASTBP_ALIGN 64

/* Slope of leaky_relu for z < 0 (the common default, as in PyTorch). */
#define FASTBP_LEAKY_SLOPE 0.01

#endif
