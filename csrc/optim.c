/* optim.c: optimizer steps (see optim.h), for double and float. */
#include <math.h>

#include "clones.h"
#include "optim.h"

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
