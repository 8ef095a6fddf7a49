/* kernels.h: whether fastbp's own AVX-512 products run (csrc/dot.c for the
 * forward product, csrc/outer.c for the backward ones).
 *
 *   fastbp_kernels_ready()  1 where the CPU runs them (AVX-512F, GCC, x86-64),
 *                           else 0: the core then calls the BLAS for every
 *                           product
 *   fastbp_kernels_on       whether the core uses them: 0 until _core sets it
 *                           at import (from fastbp_kernels_ready; tests
 *                           switch it off to test the BLAS path too)
 */
#ifndef FASTBP_KERNELS_H
#define FASTBP_KERNELS_H

int fastbp_kernels_ready(void);
extern int fastbp_kernels_on;

#endif
