/* gemm_framework.h: the blocked, packed GEMM loops (BLIS's five loops around
 * the micro-kernel), written once and included by gemm.c for each type.
 *
 * GEMM has two ways through with the same per-element arithmetic:
 *   1. B's rows contiguous and B small: B read in place, only A packed.
 *   2. otherwise A and B packed into panels (B's edge panel always is).
 * GEMM_DOT is C = A·Bᵀ through the dot-product kernel (its own order of
 * summation: the caller chooses it by the shape of the whole layer).
 *
 * Define before including: T (float or double), GEMM and GEMM_DOT (names),
 * PACK_A, PACK_B (names for this type's packing routines), KERNEL_FIELD,
 * MR_FIELD, NR_FIELD, DOT_FIELD, DOT_MR_FIELD, DOT_NR_FIELD (the fastbp_isa
 * members to use).
 */

/* Copy A[0:mc, 0:kc] into MR-row panels, each (kc, MR), zero-padded. */
static void PACK_A(int mc, int kc, const T *A, ptrdiff_t rsa, ptrdiff_t csa,
                   int mr, T *restrict ap)
{
    for (int i0 = 0; i0 < mc; i0 += mr) {
        int rows = mc - i0 < mr ? mc - i0 : mr;
        for (int p = 0; p < kc; ++p) {
            const T *src = A + (ptrdiff_t)i0 * rsa + (ptrdiff_t)p * csa;
            int i = 0;
            for (; i < rows; ++i) ap[i] = src[(ptrdiff_t)i * rsa];
            for (; i < mr; ++i) ap[i] = 0;
            ap += mr;
        }
    }
}

/* Copy B[0:kc, 0:nc] into NR-column panels, each (kc, NR), zero-padded. */
static void PACK_B(int kc, int nc, const T *B, ptrdiff_t rsb, ptrdiff_t csb,
                   int nr, T *restrict bp)
{
    for (int j0 = 0; j0 < nc; j0 += nr) {
        int cols = nc - j0 < nr ? nc - j0 : nr;
        for (int p = 0; p < kc; ++p) {
            const T *src = B + (ptrdiff_t)p * rsb + (ptrdiff_t)j0 * csb;
            int j = 0;
            if (csb == 1)
                for (; j < cols; ++j) bp[j] = src[j];
            else
                for (; j < cols; ++j) bp[j] = src[(ptrdiff_t)j * csb];
            for (; j < nr; ++j) bp[j] = 0;
            bp += nr;
        }
    }
}

int GEMM(int m, int n, int k, T alpha,
         const T *A, ptrdiff_t rsa, ptrdiff_t csa,
         const T *B, ptrdiff_t rsb, ptrdiff_t csb,
         int beta, T *C, ptrdiff_t ldc, void *work)
{
    /* A is (m,k), B is (k,n), C is (m,n) with row stride ldc */
    if (m < 0 || n < 0 || k < 0 || ldc < n || !work)
        return FASTBP_EINVAL;
    if (m == 0 || n == 0)
        return FASTBP_OK;
    const fastbp_isa *isa = fastbp_active_isa();
    const size_t b_bytes = (size_t)n * (size_t)k * sizeof(T);
    if (k == 0) { /* C = beta·C + nothing */
        if (!beta)
            for (int i = 0; i < m; ++i)
                for (int j = 0; j < n; ++j) C[(ptrdiff_t)i * ldc + j] = 0;
        return FASTBP_OK;
    }
    const int mr = isa->MR_FIELD, nr = isa->NR_FIELD;
    const int direct_b = csb == 1 && b_bytes <= FASTBP_DIRECT_B_BYTES;
    T *ap = (T *)work;
    T *bp = ap + FASTBP_MC * FASTBP_KC;
    for (int jc = 0; jc < n; jc += FASTBP_NC) {
        int nc = n - jc < FASTBP_NC ? n - jc : FASTBP_NC;
        int n_full = direct_b ? nc - nc % nr : 0; /* columns read in place */
        for (int pc = 0; pc < k; pc += FASTBP_KC) {
            int kc = k - pc < FASTBP_KC ? k - pc : FASTBP_KC;
            int b = pc == 0 ? beta : 1; /* later k-blocks add to the first */
            const T *Bblock = B + (ptrdiff_t)pc * rsb + (ptrdiff_t)jc * csb;
            /* pack what is not read in place: all of B, or its edge panel */
            if (n_full < nc)
                PACK_B(kc, nc - n_full, Bblock + (ptrdiff_t)n_full * csb, rsb, csb, nr,
                       bp + (ptrdiff_t)n_full * kc);
            for (int ic = 0; ic < m; ic += FASTBP_MC) {
                int mc = m - ic < FASTBP_MC ? m - ic : FASTBP_MC;
                PACK_A(mc, kc, A + (ptrdiff_t)ic * rsa + (ptrdiff_t)pc * csa, rsa, csa, mr, ap);
                for (int jr = 0; jr < nc; jr += nr) {
                    int nn = nc - jr < nr ? nc - jr : nr;
                    const T *bpanel = jr < n_full ? Bblock + jr : bp + (ptrdiff_t)jr * kc;
                    ptrdiff_t ldb = jr < n_full ? rsb : nr;
                    for (int ir = 0; ir < mc; ir += mr) {
                        int mm = mc - ir < mr ? mc - ir : mr;
                        isa->KERNEL_FIELD(kc, ap + (ptrdiff_t)ir * kc, bpanel, ldb,
                                          C + (ptrdiff_t)(ic + ir) * ldc + jc + jr, ldc,
                                          mm, nn, alpha, b);
                    }
                }
            }
        }
    }
    return FASTBP_OK;
}

int GEMM_DOT(int m, int n, int k, T alpha, const T *A, ptrdiff_t lda,
             const T *B, ptrdiff_t ldb, int beta, T *C, ptrdiff_t ldc)
{
    /* A is (m,k), B is (n,k), both with contiguous rows; C is (m,n) */
    if (m < 0 || n < 0 || k < 0 || ldc < n)
        return FASTBP_EINVAL;
    const fastbp_isa *isa = fastbp_active_isa();
    const int dmr = isa->DOT_MR_FIELD, dnr = isa->DOT_NR_FIELD;
    /* a block of A's rows stays in L1 while all of B streams from L2 */
    for (int i0 = 0; i0 < m; i0 += dmr)
        for (int j0 = 0; j0 < n; j0 += dnr)
            isa->DOT_FIELD(k, A + (ptrdiff_t)i0 * lda, lda, B + (ptrdiff_t)j0 * ldb, ldb,
                           C + (ptrdiff_t)i0 * ldc + j0, ldc,
                           m - i0 < dmr ? m - i0 : dmr, n - j0 < dnr ? n - j0 : dnr,
                           alpha, beta);
    return FASTBP_OK;
}
