/* Load a FANN .net file with fann_create_from_file and print fann_run's
 * outputs for the inputs on stdin.
 *
 *   run_net NET_FILE [RESAVED_NET] < inputs    inputs: "n d" then n·d numbers
 *
 * Prints one line per sample, its outputs as %.17g; with RESAVED_NET, also
 * writes the loaded network back out with fann_save. Built with floatfann by
 * default, with doublefann when compiled with -DUSE_DOUBLEFANN. Exit status
 * 2 when FANN cannot load the file, 3 on bad input.
 */
#include <stdio.h>
#include <stdlib.h>
#ifdef USE_DOUBLEFANN
#include <doublefann.h>
#else
#include <floatfann.h>
#endif

int main(int argc, char **argv)
{
    struct fann *ann;
    unsigned int n, d, i, j, n_out;
    fann_type *x;

    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: %s NET_FILE [RESAVED_NET] < inputs\n", argv[0]);
        return 3;
    }
    ann = fann_create_from_file(argv[1]);
    if (ann == NULL)
        return 2;
    if (argc == 3 && fann_save(ann, argv[2]) != 0)
        return 2;
    if (scanf("%u %u", &n, &d) != 2 || d != fann_get_num_input(ann)) {
        fprintf(stderr, "inputs: expected 'n %u' first\n", fann_get_num_input(ann));
        return 3;
    }
    n_out = fann_get_num_output(ann);
    x = malloc(sizeof(fann_type) * (d ? d : 1));
    for (i = 0; i < n; i++) {
        fann_type *y;
        for (j = 0; j < d; j++) {
            double v;
            if (scanf("%lf", &v) != 1) {
                fprintf(stderr, "inputs: sample %u is short\n", i);
                return 3;
            }
            x[j] = (fann_type)v;
        }
        y = fann_run(ann, x);
        for (j = 0; j < n_out; j++)
            printf(j ? " %.17g" : "%.17g", (double)y[j]);
        printf("\n");
    }
    free(x);
    fann_destroy(ann);
    return 0;
}
