/* AVX-512F micro-kernels (compiled with -mavx512f -mfma only in this file):
 * 8×16 doubles and 8×32 floats keep 16 of the 32 zmm registers as accumulators. */
#define T double
#define MR 8
#define NR 16
#define VBYTES 64
#define KERNEL fastbp_dgemm_avx512_8x16
#define KERNEL_VEC fastbp_dvec_avx512
#include "../gemm_kernel.h"
#undef T
#undef MR
#undef NR
#undef KERNEL
#undef KERNEL_VEC

#define T float
#define MR 8
#define NR 32
#define KERNEL fastbp_sgemm_avx512_8x32
#define KERNEL_VEC fastbp_svec_avx512
#include "../gemm_kernel.h"
