/* optim.c: optimizer steps (see optim.h), for double and float. */
#include <math.h>

#include "optim.h"

#define T double
#define OPTIM_STEP fastbp_doptim_step
#define SQRT sqrt
#include "optim_step.h"
#undef T
#undef OPTIM_STEP
#undef SQRT

#define T float
#define OPTIM_STEP fastbp_soptim_step
#define SQRT sqrtf
#include "optim_step.h"
