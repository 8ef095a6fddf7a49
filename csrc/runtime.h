/* runtime.h: the thread team and Ctrl-C, for the compiled epoch loop.
 *
 * The epoch runs in one OpenMP parallel region; its phases are separated by
 * fastbp_barrier() (an orphaned `omp barrier`, which binds to the region
 * the caller is in). Without OpenMP these are no-ops for one thread.
 *
 * Ctrl-C: while the compiled loop runs with the GIL released, Python cannot
 * run its SIGINT handler. fastbp_interrupt_begin() installs a handler that
 * records the signal and then calls the previous (Python's) handler, so the
 * loop can stop at the next batch boundary and Python raises
 * KeyboardInterrupt when the loop returns. Main thread only.
 */
#ifndef FASTBP_RUNTIME_H
#define FASTBP_RUNTIME_H

void fastbp_barrier(void);
int fastbp_thread_num(void);
int fastbp_num_threads(void);

int fastbp_openmp_enabled(void);
int fastbp_openmp_max_threads(void);
const char *fastbp_compiler(void);

int fastbp_interrupt_begin(void);
void fastbp_interrupt_end(void);
int fastbp_interrupted(void);

#endif
