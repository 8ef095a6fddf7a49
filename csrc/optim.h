/* optim.h: optimizer steps over a slice of the flat parameter buffer.
 *
 * Each call updates p[0:n] from the gradient g[0:n] and the optimizer's
 * state buffers s[k*stride + 0:n] (k < n_state, same layout as params), with
 * the rules torch.optim documents, name for name, so the two give the same
 * numbers. `t` is the 1-based step count (Adam's bias correction, Adagrad's
 * decay). The compiled epoch calls it for each thread's own rows, so every
 * element sees the same arithmetic whatever the thread count.
 *
 * The hyper-parameters come by name in one fastbp_hyper (torch.optim's
 * names); each kind reads its own fields:
 *   SGD      momentum, nesterov, weight_decay
 *   ADAM     beta1, beta2, eps, weight_decay, amsgrad, decoupled (1 = AdamW),
 *            epsilon_hat (1 = eps added to √v before the bias correction, the
 *            paper's ε̂ as Keras and scikit-learn use it; 0 = after, torch)
 *   RMSPROP  alpha, eps, weight_decay, momentum, centered
 *   ADAGRAD  lr_decay, weight_decay, eps
 *   RPROP    eta_minus, eta_plus, step_min, step_max  (state: prev grad, step):
 *            torch's Rprop, which is Igel & Hüsken's iRprop−
 *   IRPROP_PLUS  as RPROP (state: prev grad, step, prev weight change); iRprop+
 *            undoes the last change of a weight whose gradient changed sign
 *            when the cost went up (`worse`, the full-batch cost before this
 *            step against the one before the last)
 *   QUICKPROP    mu, decay (state: prev step, prev slope): Fahlman's
 *            Quickprop as FANN implements it (fann_update_weights_quickprop),
 *            with FANN's slope = −(gradient) + decay·w and lr as its epsilon
 *
 * fastbp._core hands Python the kinds as OPTIMIZER_CODES (name -> code) and
 * the field names as HYPER_FIELDS; an optimizer's dataclass fields carry these
 * names (fastbp.optim).
 */
#ifndef FASTBP_OPTIM_H
#define FASTBP_OPTIM_H

#include <stddef.h>

/* The update rules; PLAIN_SGD (p −= lr·g, no state) is done by the compiled
 * epoch itself, fused into the gradient product. */
enum fastbp_optimizer {
    FASTBP_PLAIN_SGD = -1, FASTBP_SGD, FASTBP_ADAM, FASTBP_RMSPROP, FASTBP_ADAGRAD,
    FASTBP_RPROP, FASTBP_IRPROP_PLUS, FASTBP_QUICKPROP
};

/* Every rule's hyper-parameters, by name; a rule reads its own, the others
 * stay 0. Switches are 0 or 1. */
typedef struct fastbp_hyper {
    double momentum, weight_decay, eps;              /* SGD, Adam, RMSprop, Adagrad */
    double beta1, beta2;                             /* Adam */
    double alpha;                                    /* RMSprop */
    double lr_decay;                                 /* Adagrad */
    double eta_minus, eta_plus, step_min, step_max;  /* Rprop, iRprop+ */
    double mu, decay;                                /* Quickprop */
    int nesterov, amsgrad, decoupled, epsilon_hat, centered;
} fastbp_hyper;

void fastbp_doptim_step(int kind, const fastbp_hyper *h, long t, double lr, int worse,
                        double *p, const double *g, double *s, ptrdiff_t stride, ptrdiff_t n);
void fastbp_soptim_step(int kind, const fastbp_hyper *h, long t, double lr, int worse,
                        float *p, const float *g, float *s, ptrdiff_t stride, ptrdiff_t n);

#endif
