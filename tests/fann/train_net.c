/* Create a FANN network, train it a few epochs, save it, and print fann_run's
 * outputs for every training input.
 *
 *   train_net DATA_FILE OUT_NET EPOCHS N_IN LAYER...
 *
 * DATA_FILE is in FANN's training-data format. Each LAYER (hidden layers,
 * then the output layer) is N:ACTIVATION:STEEPNESS[:STEEPNESS_OF_NEURON_0],
 * ACTIVATION a fann_activationfunc_enum code. Weights start from a fixed
 * seed; training is fann_train_on_data with FANN's defaults (RPROP, tanh
 * error function). Prints one line per sample, its outputs as %.17g.
 * Built with floatfann. Exit status 2 on a FANN error, 3 on bad arguments.
 */
#include <stdio.h>
#include <stdlib.h>
#include <floatfann.h>

#define MAX_LAYERS 16

int main(int argc, char **argv)
{
    unsigned int sizes[MAX_LAYERS], acts[MAX_LAYERS], n_layers, l, i, j, epochs;
    float steep[MAX_LAYERS], steep0[MAX_LAYERS];
    struct fann *ann;
    struct fann_train_data *data;

    if (argc < 6 || argc - 4 > MAX_LAYERS) {
        fprintf(stderr, "usage: %s DATA_FILE OUT_NET EPOCHS N_IN N:ACT:STEEP[:STEEP0]...\n", argv[0]);
        return 3;
    }
    epochs = (unsigned int)atoi(argv[3]);
    n_layers = (unsigned int)(argc - 4);
    sizes[0] = (unsigned int)atoi(argv[4]);
    for (l = 1; l < n_layers; l++) {
        int got = sscanf(argv[4 + l], "%u:%u:%f:%f", &sizes[l], &acts[l], &steep[l], &steep0[l]);
        if (got < 3) {
            fprintf(stderr, "bad layer %s\n", argv[4 + l]);
            return 3;
        }
        if (got == 3)
            steep0[l] = steep[l];
    }
    ann = fann_create_standard_array(n_layers, sizes);
    if (ann == NULL)
        return 2;
    for (l = 1; l < n_layers; l++) {
        fann_set_activation_function_layer(ann, (enum fann_activationfunc_enum)acts[l], (int)l);
        fann_set_activation_steepness_layer(ann, steep[l], (int)l);
        fann_set_activation_steepness(ann, steep0[l], (int)l, 0);
    }
    srand(12345);
    fann_randomize_weights(ann, -0.5f, 0.5f);

    data = fann_read_train_from_file(argv[1]);
    if (data == NULL)
        return 2;
    fann_train_on_data(ann, data, epochs, 0, 0.0f);
    if (fann_save(ann, argv[2]) != 0)
        return 2;
    for (i = 0; i < fann_length_train_data(data); i++) {
        fann_type *y = fann_run(ann, data->input[i]);
        for (j = 0; j < fann_get_num_output(ann); j++)
            printf(j ? " %.17g" : "%.17g", (double)y[j]);
        printf("\n");
    }
    fann_destroy_train(data);
    fann_destroy(ann);
    return 0;
}
