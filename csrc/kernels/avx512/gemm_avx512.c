/* AVX-512F micro-kernels (compiled with -mavx512f -mfma only in this file):
 * 8×16 doubles and 8×32 floats keep 16 of the 32 zmm registers as
 * accumulators; so do the 4×4 dot tiles. */
#define T double
#define VBYTES 64
#define KERNEL fastbp_dgemm_avx512_8x16
#define MR 8
#define NR 16
#define DOT fastbp_ddot_avx512_4x4
#define DMR 4
#define DNR 4
#define VEC double_vec_avx512
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
#define VBYTES 64
#define KERNEL fastbp_sgemm_avx512_8x32
#define MR 8
#define NR 32
#define DOT fastbp_sdot_avx512_4x4
#define DMR 4
#define DNR 4
#define VEC float_vec_avx512
#include "../gemm_kernel.h"
