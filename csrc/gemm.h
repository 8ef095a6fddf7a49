/* gemm.h: the one matrix-multiply routine of fastbp's core.
 *
 *   C = beta·C + A·B      A is (m, k), B is (k, n), C is (m, n), beta ∈ {0, 1}
 *
 * A and B are read through (row stride, column stride) pairs, so the three
 * products of backprop are the same call:
 *   forward        Z  = A_in · Wᵀ     B = W read with strides (1, n_in)
 *   delta          D_in = D_out · W   plain
 *   weight grad    dW = D_outᵀ · A_in A = D_out read with strides (1, n_out)
 * beta == 0 overwrites C without reading it (C may hold NaN or garbage).
 *
 * Every element of C is summed over k in the same order whatever the
 * sub-block of C a call covers, so splitting C's rows across threads never
 * changes a result bit: results do not depend on the thread count.
 *
 * `work` is caller-owned scratch of fastbp_gemm_work_bytes() bytes, aligned
 * to FASTBP_ALIGN, one per concurrent caller; gemm allocates nothing.
 */
#ifndef FASTBP_GEMM_H
#define FASTBP_GEMM_H

#include "fastbp.h"

/* Micro-kernel contract (BLIS): c[0:m, 0:n] (row stride ldc) gets
 * beta·c + Σ_p a[p*MR + i]·b[p*NR + j] over p < kc, for m <= MR, n <= NR.
 * a and b are packed panels padded with zeros to MR and NR. */
typedef void (*fastbp_dkernel)(int kc, const double *a, const double *b,
                               double *c, ptrdiff_t ldc, int m, int n, int beta);
typedef void (*fastbp_skernel)(int kc, const float *a, const float *b,
                               float *c, ptrdiff_t ldc, int m, int n, int beta);

/* One ISA's micro-kernels and their tile sizes: a row of the dispatch table. */
typedef struct {
    const char *name;
    int (*supported)(void);
    fastbp_dkernel dkernel;
    int dmr, dnr;
    fastbp_skernel skernel;
    int smr, snr;
} fastbp_isa;

/* Blocking of the framework loops (elements). MC and NC are multiples of
 * every kernel's MR and NR. */
#define FASTBP_KC 256
#define FASTBP_MC 96
#define FASTBP_NC 2048

size_t fastbp_gemm_work_bytes(void);

int fastbp_dgemm(int m, int n, int k,
                 const double *A, ptrdiff_t rsa, ptrdiff_t csa,
                 const double *B, ptrdiff_t rsb, ptrdiff_t csb,
                 int beta, double *C, ptrdiff_t ldc, void *work);
int fastbp_sgemm(int m, int n, int k,
                 const float *A, ptrdiff_t rsa, ptrdiff_t csa,
                 const float *B, ptrdiff_t rsb, ptrdiff_t csb,
                 int beta, float *C, ptrdiff_t ldc, void *work);

/* Run-time ISA choice. fastbp_isa_select(NULL) picks the best the CPU runs
 * (or $FASTBP_ISA if set); with a name it forces that path. Returns
 * FASTBP_OK, or FASTBP_EINVAL if the name is unknown, not compiled in or
 * not supported by this CPU (the choice is then unchanged). */
int fastbp_isa_select(const char *name);
const fastbp_isa *fastbp_active_isa(void);
const char *fastbp_isa_selected(void);
/* Names of the ISA paths compiled in, comma-separated, and of those this
 * CPU can run. */
const char *fastbp_isa_compiled(void);
int fastbp_isa_runs(const char *name);

/* Build facts for show_config(). */
int fastbp_openmp_enabled(void);
int fastbp_openmp_max_threads(void);
const char *fastbp_compiler(void);

#endif
