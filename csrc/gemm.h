/* gemm.h: the one matrix-multiply routine of fastbp's core.
 *
 *   C = beta·C + alpha·A·B    A is (m, k), B is (k, n), C is (m, n), beta ∈ {0, 1}
 *
 * A and B are read through (row stride, column stride) pairs, so the three
 * products of backprop are the same call:
 *   forward        Z  = A_in · Wᵀ     B = W read with strides (1, n_in)
 *   delta          D_in = D_out · W   plain
 *   weight grad    dW = D_outᵀ · A_in A = D_out read with strides (1, n_out)
 * beta == 0 overwrites C without reading it (C may hold NaN or garbage);
 * alpha = −lr, beta = 1 with C = W is the SGD step fused into the product.
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
 *     beta·c + alpha·Σ_p a[p*MR + i]·b[p*ldb + j]   over p < kc,
 * for m <= MR, n <= NR. a is a packed panel zero-padded to MR rows; b has NR
 * readable columns in each of its kc rows (a packed panel with ldb = NR, or
 * B itself when its rows are contiguous). beta == 0 never reads c. */
typedef void (*fastbp_dkernel)(int kc, const double *a, const double *b, ptrdiff_t ldb,
                               double *c, ptrdiff_t ldc, int m, int n,
                               double alpha, int beta);
typedef void (*fastbp_skernel)(int kc, const float *a, const float *b, ptrdiff_t ldb,
                               float *c, ptrdiff_t ldc, int m, int n,
                               float alpha, int beta);

/* Dot-product kernel for C = A·Bᵀ when rows of both A and B are contiguous
 * (the forward pass: Z = A_in·Wᵀ, W row-major). No packing: for small
 * layers packing W would cost as much as the product. c[0:m, 0:n] gets
 *     beta·c + alpha·Σ_p a[i*lda + p]·b[j*ldb + p]   for m <= DMR, n <= DNR,
 * summed in vector lanes, then across lanes in a fixed order, then the tail. */
typedef void (*fastbp_ddot)(int k, const double *a, ptrdiff_t lda, const double *b,
                            ptrdiff_t ldb, double *c, ptrdiff_t ldc, int m, int n,
                            double alpha, int beta);
typedef void (*fastbp_sdot)(int k, const float *a, ptrdiff_t lda, const float *b,
                            ptrdiff_t ldb, float *c, ptrdiff_t ldc, int m, int n,
                            float alpha, int beta);

/* One ISA's micro-kernels and their tile sizes: a row of the dispatch table. */
typedef struct {
    const char *name;
    int (*supported)(void);
    fastbp_dkernel dkernel;
    int dmr, dnr;
    fastbp_ddot ddot;
    int ddot_mr, ddot_nr;
    fastbp_skernel skernel;
    int smr, snr;
    fastbp_sdot sdot;
    int sdot_mr, sdot_nr;
} fastbp_isa;

/* Blocking of the framework loops (elements). MC and NC are multiples of
 * every kernel's MR and NR. */
#define FASTBP_KC 256
#define FASTBP_MC 96
#define FASTBP_NC 2048
/* B is read in place, unpacked, when it has contiguous rows and is at most
 * this large (it then stays in L2 across the row blocks); packing it costs
 * more than it saves for the small layers of typical networks. Both ways
 * give the same bits: the kernel and its order of summation are the same. */
#define FASTBP_DIRECT_B_BYTES (256 * 1024)
/* Layers whose W has at most this many bytes run their forward product
 * through fastbp_?dot_nt. The choice depends on the layer's shape only,
 * never on how a thread's share is cut, so it cannot make results depend
 * on the thread count. */
#define FASTBP_DOT_B_BYTES (256 * 1024)

size_t fastbp_gemm_work_bytes(void);

/* C = beta·C + alpha·A·B */
int fastbp_dgemm(int m, int n, int k, double alpha,
                 const double *A, ptrdiff_t rsa, ptrdiff_t csa,
                 const double *B, ptrdiff_t rsb, ptrdiff_t csb,
                 int beta, double *C, ptrdiff_t ldc, void *work);
int fastbp_sgemm(int m, int n, int k, float alpha,
                 const float *A, ptrdiff_t rsa, ptrdiff_t csa,
                 const float *B, ptrdiff_t rsb, ptrdiff_t csb,
                 int beta, float *C, ptrdiff_t ldc, void *work);

/* C = beta·C + alpha·A·Bᵀ through the dot-product kernels, A (m, k) and
 * B (n, k) with contiguous rows: the forward pass of small layers. */
int fastbp_ddot_nt(int m, int n, int k, double alpha, const double *A, ptrdiff_t lda,
                   const double *B, ptrdiff_t ldb, int beta, double *C, ptrdiff_t ldc);
int fastbp_sdot_nt(int m, int n, int k, float alpha, const float *A, ptrdiff_t lda,
                   const float *B, ptrdiff_t ldb, int beta, float *C, ptrdiff_t ldc);

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
