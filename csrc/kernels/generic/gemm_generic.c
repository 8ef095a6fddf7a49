/* Portable micro-kernels: baseline x86-64 (SSE2) or whatever the target's
 * default vector width is. Always compiled, the fallback for every CPU. */
#define T double
#define VBYTES 16
#define KERNEL fastbp_dgemm_generic_4x4
#define MR 4
#define NR 4
#define DOT fastbp_ddot_generic_2x4
#define DMR 2
#define DNR 4
#define VEC double_vec_generic
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
#define VBYTES 16
#define KERNEL fastbp_sgemm_generic_4x8
#define MR 4
#define NR 8
#define DOT fastbp_sdot_generic_2x4
#define DMR 2
#define DNR 4
#define VEC float_vec_generic
#include "../gemm_kernel.h"
