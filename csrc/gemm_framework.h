/* gemm_framework.h: the blocked, packed GEMM loops (BLIS's five loops around
 * the micro-kernel), written once and included by gemm.c for each type.
 *
 * Define before including: T (float or double), GEMM (function name),
 * KERNEL_FIELD, MR_FIELD, NR_FIELD (the fastbp_isa members to use).
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

int GEMM(int m, int n, int k,
         const T *A, ptrdiff_t rsa, ptrdiff_t csa,
         const T *B, ptrdiff_t rsb, ptrdiff_t csb,
         int beta, T *C, ptrdiff_t ldc, void *work)
{
    /* A is (m,k), B is (k,n), C is (m,n) with row stride ldc */
    if (m < 0 || n < 0 || k < 0 || ldc < n || !work)
        return FASTBP_EINVAL;
    const fastbp_isa *isa = fastbp_active_isa();
    const int mr = isa->MR_FIELD, nr = isa->NR_FIELD;
    T *ap = (T *)work;
    T *bp = ap + FASTBP_MC * FASTBP_KC;

    if (k == 0) { /* C = beta·C + nothing */
        if (!beta)
            for (int i = 0; i < m; ++i)
                for (int j = 0; j < n; ++j) C[(ptrdiff_t)i * ldc + j] = 0;
        return FASTBP_OK;
    }
    for (int jc = 0; jc < n; jc += FASTBP_NC) {
        int nc = n - jc < FASTBP_NC ? n - jc : FASTBP_NC;
        for (int pc = 0; pc < k; pc += FASTBP_KC) {
            int kc = k - pc < FASTBP_KC ? k - pc : FASTBP_KC;
            int b = pc == 0 ? beta : 1; /* later k-blocks add to the first */
            PACK_B(kc, nc, B + (ptrdiff_t)pc * rsb + (ptrdiff_t)jc * csb, rsb, csb, nr, bp);
            for (int ic = 0; ic < m; ic += FASTBP_MC) {
                int mc = m - ic < FASTBP_MC ? m - ic : FASTBP_MC;
                PACK_A(mc, kc, A + (ptrdiff_t)ic * rsa + (ptrdiff_t)pc * csa, rsa, csa, mr, ap);
                for (int jr = 0; jr < nc; jr += nr) {
                    int nn = nc - jr < nr ? nc - jr : nr;
                    for (int ir = 0; ir < mc; ir += mr) {
                        int mm = mc - ir < mr ? mc - ir : mr;
                        isa->KERNEL_FIELD(kc, ap + (ptrdiff_t)ir * kc, bp + (ptrdiff_t)jr * kc,
                                          C + (ptrdiff_t)(ic + ir) * ldc + jc + jr, ldc,
                                          mm, nn, b);
                    }
                }
            }
        }
    }
    return FASTBP_OK;
}
