/* clones.h: FASTBP_CLONES builds a function for x86-64-v4 (AVX-512),
 * x86-64-v3 (AVX2) and the baseline, and the loader picks the best the CPU
 * runs (GCC's target_clones): loops of independent elements vectorize to
 * the widest registers while the wheel itself assumes no more than the
 * baseline. Every file is compiled with -ffp-contract=off (sources.json),
 * so no clone fuses a multiply and an add: every clone rounds alike. */
#ifndef FASTBP_CLONES_H
#define FASTBP_CLONES_H

#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__) && !defined(__clang__) \
    && !defined(FASTBP_NO_CLONES) /* tests/test_clones.py builds one -march at a time */
#define FASTBP_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define FASTBP_CLONES
#endif

#endif
