/* AVX2 + FMA micro-kernels (compiled with -mavx2 -mfma only in this file):
 * 6×8 doubles and 6×16 floats keep 12 of the 16 ymm registers as accumulators. */
#define T double
#define MR 6
#define NR 8
#define VBYTES 32
#define KERNEL fastbp_dgemm_avx2_6x8
#define KERNEL_VEC fastbp_dvec_avx2
#include "../gemm_kernel.h"
#undef T
#undef MR
#undef NR
#undef KERNEL
#undef KERNEL_VEC

#define T float
#define MR 6
#define NR 16
#define KERNEL fastbp_sgemm_avx2_6x16
#define KERNEL_VEC fastbp_svec_avx2
#include "../gemm_kernel.h"
