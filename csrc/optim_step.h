/* optim_step.h: the body of fastbp_?optim_step, written once and included
 * by optim.c for each type (define T, OPTIM_STEP, SQRT, ADAM_LOOP,
 * RMSPROP_LOOP). */

/* Adam's update with its switches as constants: inlined into one branch-free
 * loop per setting. */
static inline __attribute__((always_inline)) void ADAM_LOOP(
    const int amsgrad, const int decoupled, const int eps_hat, const T b1, const T b2,
    const T eps, const T wd, const T lr, const T step, const T inv_root_bias2, T *restrict p,
    const T *restrict g, T *restrict m, T *restrict v, T *restrict vmax, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; ++i) {
        T d = g[i];
        if (decoupled)
            p[i] *= 1 - lr * wd;
        else
            d += wd * p[i];
        m[i] = b1 * m[i] + (1 - b1) * d;
        v[i] = b2 * v[i] + (1 - b2) * d * d;
        T second = v[i];
        if (amsgrad) {
            vmax[i] = vmax[i] > v[i] ? vmax[i] : v[i];
            second = vmax[i];
        }
        /* × 1/√(1−β2ᵗ), not ÷ √(1−β2ᵗ): a division less per element, which
         * with the square root is most of the loop's time (to 1 ulp alike) */
        p[i] -= step * m[i] / (eps_hat ? (SQRT(second) + eps) * inv_root_bias2
                                       : SQRT(second) * inv_root_bias2 + eps);
    }
}

/* RMSprop's update, the same way. */
static inline __attribute__((always_inline)) void RMSPROP_LOOP(
    const int centered, const int momentum, const T alpha, const T eps, const T wd, const T mu,
    const T lr, T *restrict p, const T *restrict g, T *restrict sq, T *restrict buf,
    T *restrict avg, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; ++i) {
        T d = g[i] + wd * p[i];
        sq[i] = alpha * sq[i] + (1 - alpha) * d * d;
        T denom;
        if (centered) {
            avg[i] = alpha * avg[i] + (1 - alpha) * d;
            denom = SQRT(sq[i] - avg[i] * avg[i]) + eps;
        } else {
            denom = SQRT(sq[i]) + eps;
        }
        if (momentum) {
            buf[i] = mu * buf[i] + d / denom;
            p[i] -= lr * buf[i];
        } else {
            p[i] -= lr * d / denom;
        }
    }
}

FASTBP_CLONES void OPTIM_STEP(int kind, const fastbp_hyper *h, long t, double lr_, int worse,
                T *restrict p, const T *restrict g, T *restrict s, ptrdiff_t stride, ptrdiff_t n)
{
    const T lr = (T)lr_;
    switch (kind) {
    case FASTBP_SGD: {
        const T mu = (T)h->momentum, wd = (T)h->weight_decay;
        const int nesterov = h->nesterov != 0;
        T *buf = s;
        for (ptrdiff_t i = 0; i < n; ++i) {
            T d = g[i] + wd * p[i];
            if (mu != 0) {
                buf[i] = mu * buf[i] + d;  /* first step: buf = g, as torch */
                d = nesterov ? d + mu * buf[i] : buf[i];
            }
            p[i] -= lr * d;
        }
        break;
    }
    case FASTBP_ADAM: {
        const T b1 = (T)h->beta1, b2 = (T)h->beta2, eps = (T)h->eps, wd = (T)h->weight_decay;
        const int amsgrad = h->amsgrad != 0, decoupled = h->decoupled != 0;
        const int eps_hat = h->epsilon_hat != 0;
        const T bias1 = (T)(1 - pow(h->beta1, (double)t));
        const T bias2 = (T)(1 - pow(h->beta2, (double)t));
        const T step = lr / bias1, inv_root_bias2 = 1 / SQRT(bias2);
        T *m = s, *v = s + stride, *vmax = s + 2 * stride;
        /* one loop for each setting of the three switches, each without a
         * branch inside, so that the compiler vectorizes it */
#define ADAM(AMSGRAD, DECOUPLED, EPS_HAT)                                              \
        ADAM_LOOP(AMSGRAD, DECOUPLED, EPS_HAT, b1, b2, eps, wd, lr, step, inv_root_bias2, p, g, \
                  m, v, vmax, n)
        if (amsgrad) {
            if (decoupled) { if (eps_hat) ADAM(1, 1, 1); else ADAM(1, 1, 0); }
            else           { if (eps_hat) ADAM(1, 0, 1); else ADAM(1, 0, 0); }
        } else {
            if (decoupled) { if (eps_hat) ADAM(0, 1, 1); else ADAM(0, 1, 0); }
            else           { if (eps_hat) ADAM(0, 0, 1); else ADAM(0, 0, 0); }
        }
#undef ADAM
        break;
    }
    case FASTBP_RMSPROP: {
        const T alpha = (T)h->alpha, eps = (T)h->eps, wd = (T)h->weight_decay;
        const T mu = (T)h->momentum;
        const int centered = h->centered != 0;
        T *sq = s, *buf = s + stride, *avg = s + 2 * stride;
#define RMSPROP(CENTERED, MOMENTUM) \
        RMSPROP_LOOP(CENTERED, MOMENTUM, alpha, eps, wd, mu, lr, p, g, sq, buf, avg, n)
        if (centered) { if (mu > 0) RMSPROP(1, 1); else RMSPROP(1, 0); }
        else          { if (mu > 0) RMSPROP(0, 1); else RMSPROP(0, 0); }
#undef RMSPROP
        break;
    }
    case FASTBP_ADAGRAD: {
        const T wd = (T)h->weight_decay, eps = (T)h->eps;
        const T clr = lr / (1 + (T)(t - 1) * (T)h->lr_decay);
        T *sum = s;
        for (ptrdiff_t i = 0; i < n; ++i) {
            T d = g[i] + wd * p[i];
            sum[i] += d * d;
            p[i] -= clr * d / (SQRT(sum[i]) + eps);
        }
        break;
    }
    case FASTBP_RPROP: {
        const T eta_minus = (T)h->eta_minus, eta_plus = (T)h->eta_plus;
        const T step_min = (T)h->step_min, step_max = (T)h->step_max;
        T *prev = s, *step = s + stride;
        for (ptrdiff_t i = 0; i < n; ++i) {
            T d = g[i];
            T sign = d * prev[i];
            if (sign > 0) {
                step[i] = step[i] * eta_plus < step_max ? step[i] * eta_plus : step_max;
            } else if (sign < 0) {
                step[i] = step[i] * eta_minus > step_min ? step[i] * eta_minus : step_min;
                d = 0; /* no move, and no sign memory, after a sign change */
            }
            p[i] -= (d > 0 ? step[i] : d < 0 ? -step[i] : 0);
            prev[i] = d;
        }
        break;
    }
    case FASTBP_IRPROP_PLUS: {
        const T eta_minus = (T)h->eta_minus, eta_plus = (T)h->eta_plus;
        const T step_min = (T)h->step_min, step_max = (T)h->step_max;
        T *prev = s, *step = s + stride, *change = s + 2 * stride;
        for (ptrdiff_t i = 0; i < n; ++i) {
            T d = g[i];
            T sign = d * prev[i];
            if (sign < 0) {
                step[i] = step[i] * eta_minus > step_min ? step[i] * eta_minus : step_min;
                if (worse)
                    p[i] -= change[i];  /* weight backtracking */
                change[i] = 0;
                d = 0;
            } else {
                if (sign > 0)
                    step[i] = step[i] * eta_plus < step_max ? step[i] * eta_plus : step_max;
                change[i] = d > 0 ? -step[i] : d < 0 ? step[i] : 0;
                p[i] += change[i];
            }
            prev[i] = d;
        }
        break;
    }
    case FASTBP_QUICKPROP: {
        /* FANN's loop, its names and constants; its slope is the negative
         * gradient (FANN accumulates (desired − actual)·input). */
        const T mu = (T)h->mu, decay = (T)h->decay, epsilon = lr;
        const T shrink = (T)(h->mu / (1.0 + h->mu));
        T *prev_step = s, *prev_slope = s + stride;
        for (ptrdiff_t i = 0; i < n; ++i) {
            const T slope = -g[i] + decay * p[i];
            T next = 0;
            if (prev_step[i] > (T)0.001) {
                if (slope > 0)
                    next += epsilon * slope;
                if (slope > shrink * prev_slope[i])
                    next += mu * prev_step[i];
                else
                    next += prev_step[i] * slope / (prev_slope[i] - slope);
            } else if (prev_step[i] < (T)-0.001) {
                if (slope < 0)
                    next += epsilon * slope;
                if (slope < shrink * prev_slope[i])
                    next += mu * prev_step[i];
                else
                    next += prev_step[i] * slope / (prev_slope[i] - slope);
            } else {
                next += epsilon * slope;
            }
            prev_step[i] = next;
            T w = p[i] + next;
            p[i] = w > 1500 ? 1500 : w < -1500 ? -1500 : w;
            prev_slope[i] = slope;
        }
        break;
    }
    }
}
