/* runtime.c: barriers and thread numbers of the OpenMP team, Ctrl-C, and
 * the build facts show_config prints (see runtime.h). */
#include <signal.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "runtime.h"

void fastbp_barrier(void)
{
#ifdef _OPENMP
    /* (a team of one never calls it: _core's _barrier skips it) */
#pragma omp barrier
#endif
}

int fastbp_thread_num(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

int fastbp_num_threads(void)
{
#ifdef _OPENMP
    return omp_get_num_threads();
#else
    return 1;
#endif
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

static volatile sig_atomic_t interrupted = 0;
static struct sigaction previous;

static void on_sigint(int sig)
{
    interrupted = 1;
    /* chain to Python's handler, which arranges for KeyboardInterrupt */
    if (!(previous.sa_flags & SA_SIGINFO) && previous.sa_handler != SIG_DFL &&
        previous.sa_handler != SIG_IGN)
        previous.sa_handler(sig);
}

int fastbp_interrupt_begin(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    interrupted = 0;
    return sigaction(SIGINT, &sa, &previous);
}

void fastbp_interrupt_end(void)
{
    sigaction(SIGINT, &previous, NULL);
}

int fastbp_interrupted(void)
{
    return interrupted;
}
