/* AVX2 + FMA micro-kernels (compiled with -mavx2 -mfma only in this file):
 * 6×8 doubles and 6×16 floats keep 12 of the 16 ymm registers as accumulators;
 * the 2×4 dot tiles keep 8. */
#define T double
#define VBYTES 32
#define KERNEL fastbp_dgemm_avx2_6x8
#define MR 6
#define NR 8
#define DOT fastbp_ddot_avx2_2x4
#define DMR 2
#define DNR 4
#define VEC double_vec_avx2
#include "../gemm_kernel.h"
#undef T
#undef KERNEL
#undef MR
#undef NR
#undef DOT
#undef DMR
#undef DNR
#undef VEC
#undef VBYTES
#define T float
#define VBYTES 32
#define KERNEL fastbp_sgemm_avx2_6x16
#define MR 6
#define NR 16
#define DOT fastbp_sdot_avx2_2x4
#define DMR 2
#define DNR 4
#define VEC float_vec_avx2
#include "../gemm_kernel.h"
