/* optim.c: optimizer steps (see optim.h), for double and float. */
#include <math.h>

#include "optim.h"

/* The steps are loops of independent elements that the compiler
 * vectorizes: on x86-64 each is built for AVX-512, AVX2 and the baseline,
 * and the loader picks the widest the CPU runs (GCC's target_clones; the
 * wheel itself assumes no more than the baseline). None of these enables
 * FMA, so every clone rounds alike. */
#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__) && !defined(__clang__)
#define FASTBP_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FASTBP_CLONES
#endif

#define T double
#define OPTIM_STEP fastbp_doptim_step
#define SQRT sqrt
#define ADAM_LOOP adam_loop_d
#define RMSPROP_LOOP rmsprop_loop_d
#include "optim_step.h"
#undef T
#undef OPTIM_STEP
#undef SQRT
#undef ADAM_LOOP
#undef RMSPROP_LOOP

#define T float
#define OPTIM_STEP fastbp_soptim_step
#define SQRT sqrtf
#define ADAM_LOOP adam_loop_s
#define RMSPROP_LOOP rmsprop_loop_s
#include "optim_step.h"
