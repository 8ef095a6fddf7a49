/* fastbp.h: what every C file of fastbp's compiled core shares.
 *
 * Shape conventions (row-major, C order, like NumPy):
 *   activations A  (n, width)          one row per sample of the batch
 *   weights     W  (n_out, n_in)       Nielsen's w[j][k]: input k -> unit j
 *   deltas      D  (n, n_out)          dC/dz of one layer, one row per sample
 * The products go to a tuned BLAS (blas.h) as row-major matrices with a
 * leading dimension.
 *
 * Compiled code never prints, exits or allocates in a hot loop. The Python
 * side validates inputs once, before calling.
 */
#ifndef FASTBP_H
#define FASTBP_H

#include <stddef.h>

/* Slope of leaky_relu for z < 0 (the common default, as in PyTorch). */
#define FASTBP_LEAKY_SLOPE 0.01

/* The codes of activations and costs: the one list of them. Cython takes
 * these constants (_activations.pxd, _costs.pxd) and fastbp._core hands
 * Python the name -> code dicts ACTIVATION_CODES and COST_CODES made from
 * them; a Python name is the constant's name in lower case. */
enum fastbp_activation {
    FASTBP_IDENTITY, FASTBP_SIGMOID, FASTBP_TANH, FASTBP_RELU, FASTBP_LEAKY_RELU,
    FASTBP_SOFTMAX
};
enum fastbp_cost { FASTBP_QUADRATIC, FASTBP_BINARY_CROSS_ENTROPY, FASTBP_CROSS_ENTROPY };

#endif
