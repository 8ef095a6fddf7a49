/* Portable micro-kernels: baseline x86-64 (SSE2) or whatever the target's
 * default vector width is. Always compiled, the fallback for every CPU. */
#define T double
#define MR 4
#define NR 4
#define VBYTES 16
#define KERNEL fastbp_dgemm_generic_4x4
#define KERNEL_VEC fastbp_dvec_generic
#include "../gemm_kernel.h"
#undef T
#undef MR
#undef NR
#undef KERNEL
#undef KERNEL_VEC

#define T float
#define MR 4
#define NR 8
#define KERNEL fastbp_sgemm_generic_4x8
#define KERNEL_VEC fastbp_svec_generic
#include "../gemm_kernel.h"
