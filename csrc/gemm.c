/* gemm.c: GEMM framework (blocking, packing) for float and double, and the
 * one dispatch table of per-ISA micro-kernels, chosen at run time.
 *
 * Only csrc/kernels/<isa>/ files are compiled with ISA flags; this file is
 * baseline code, so it runs on any x86-64 and only calls a kernel the CPU
 * supports. Which kernels exist is told by FASTBP_HAVE_<ISA>, defined by the
 * build for the kernel files it compiled.
 */
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "gemm.h"

/* Kernels of each ISA file (contracts in gemm.h). */
#define DECLARE_KERNELS(dk, dd, sk, sd)                                                  \
    void dk(int, const double *, const double *, ptrdiff_t, double *, ptrdiff_t, int, int, \
            double, int);                                                                \
    void dd(int, const double *, ptrdiff_t, const double *, ptrdiff_t, double *,        \
            ptrdiff_t, int, int, double, int);                                           \
    void sk(int, const float *, const float *, ptrdiff_t, float *, ptrdiff_t, int, int,  \
            float, int);                                                                 \
    void sd(int, const float *, ptrdiff_t, const float *, ptrdiff_t, float *, ptrdiff_t, \
            int, int, float, int);
DECLARE_KERNELS(fastbp_dgemm_generic_4x4, fastbp_ddot_generic_2x4,
                fastbp_sgemm_generic_4x8, fastbp_sdot_generic_2x4)
#ifdef FASTBP_HAVE_AVX2
DECLARE_KERNELS(fastbp_dgemm_avx2_6x8, fastbp_ddot_avx2_2x4,
                fastbp_sgemm_avx2_6x16, fastbp_sdot_avx2_2x4)
#endif
#ifdef FASTBP_HAVE_AVX512
DECLARE_KERNELS(fastbp_dgemm_avx512_8x16, fastbp_ddot_avx512_4x4,
                fastbp_sgemm_avx512_8x32, fastbp_sdot_avx512_4x4)
#endif

static int always(void) { return 1; }
#if defined(FASTBP_HAVE_AVX2) || defined(FASTBP_HAVE_AVX512)
static int cpu_avx2(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif
#ifdef FASTBP_HAVE_AVX512
static int cpu_avx512(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && cpu_avx2();
}
#endif

/* Best last: selection takes the last row the CPU supports. */
static const fastbp_isa isa_table[] = {
    {"generic", always, fastbp_dgemm_generic_4x4, 4, 4, fastbp_ddot_generic_2x4, 2, 4,
     fastbp_sgemm_generic_4x8, 4, 8, fastbp_sdot_generic_2x4, 2, 4},
#ifdef FASTBP_HAVE_AVX2
    {"avx2", cpu_avx2, fastbp_dgemm_avx2_6x8, 6, 8, fastbp_ddot_avx2_2x4, 2, 4,
     fastbp_sgemm_avx2_6x16, 6, 16, fastbp_sdot_avx2_2x4, 2, 4},
#endif
#ifdef FASTBP_HAVE_AVX512
    {"avx512", cpu_avx512, fastbp_dgemm_avx512_8x16, 8, 16, fastbp_ddot_avx512_4x4, 4, 4,
     fastbp_sgemm_avx512_8x32, 8, 32, fastbp_sdot_avx512_4x4, 4, 4},
#endif
};
#define N_ISA ((int)(sizeof isa_table / sizeof isa_table[0]))

static const fastbp_isa *active = NULL;

static const fastbp_isa *find_isa(const char *name)
{
    for (int i = 0; i < N_ISA; ++i)
        if (strcmp(isa_table[i].name, name) == 0) return &isa_table[i];
    return NULL;
}

int fastbp_isa_select(const char *name)
{
    if (name == NULL || name[0] == '\0') {
        const char *env = getenv("FASTBP_ISA");
        if (env && env[0] && fastbp_isa_select(env) == FASTBP_OK) return FASTBP_OK;
        for (int i = N_ISA - 1; i >= 0; --i)
            if (isa_table[i].supported()) { active = &isa_table[i]; return FASTBP_OK; }
        return FASTBP_EINVAL; /* unreachable: generic is always supported */
    }
    const fastbp_isa *isa = find_isa(name);
    if (!isa || !isa->supported()) return FASTBP_EINVAL;
    active = isa;
    return FASTBP_OK;
}

/* The module's init calls fastbp_isa_select(NULL) before any gemm runs; the
 * fallback below only guards direct C callers. */
const fastbp_isa *fastbp_active_isa(void)
{
    if (!active) active = &isa_table[0];
    return active;
}

const char *fastbp_isa_selected(void) { return fastbp_active_isa()->name; }

const char *fastbp_isa_compiled(void)
{
    return "generic"
#ifdef FASTBP_HAVE_AVX2
           ",avx2"
#endif
#ifdef FASTBP_HAVE_AVX512
           ",avx512"
#endif
        ;
}

int fastbp_isa_runs(const char *name)
{
    const fastbp_isa *isa = find_isa(name);
    return isa != NULL && isa->supported();
}

size_t fastbp_gemm_work_bytes(void)
{
    /* packed A block + packed B panel, in the widest type */
    return (size_t)(FASTBP_MC * FASTBP_KC + FASTBP_KC * FASTBP_NC) * sizeof(double);
}

int fastbp_openmp_enabled(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

int fastbp_openmp_max_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

const char *fastbp_compiler(void)
{
#if defined(__clang__)
    return "clang " __clang_version__;
#elif defined(__GNUC__)
    return "gcc " __VERSION__;
#elif defined(_MSC_VER)
    return "msvc";
#else
    return "unknown";
#endif
}

#define PACK_A pack_a_d
#define PACK_B pack_b_d
#define T double
#define GEMM fastbp_dgemm
#define GEMM_DOT fastbp_ddot_nt
#define KERNEL_FIELD dkernel
#define MR_FIELD dmr
#define NR_FIELD dnr
#define DOT_FIELD ddot
#define DOT_MR_FIELD ddot_mr
#define DOT_NR_FIELD ddot_nr
#include "gemm_framework.h"
#undef PACK_A
#undef PACK_B
#undef T
#undef GEMM
#undef GEMM_DOT
#undef KERNEL_FIELD
#undef MR_FIELD
#undef NR_FIELD
#undef DOT_FIELD
#undef DOT_MR_FIELD
#undef DOT_NR_FIELD

#define PACK_A pack_a_s
#define PACK_B pack_b_s
#define T float
#define GEMM fastbp_sgemm
#define GEMM_DOT fastbp_sdot_nt
#define KERNEL_FIELD skernel
#define MR_FIELD smr
#define NR_FIELD snr
#define DOT_FIELD sdot
#define DOT_MR_FIELD sdot_mr
#define DOT_NR_FIELD sdot_nr
#include "gemm_framework.h"
