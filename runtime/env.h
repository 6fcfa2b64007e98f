/* Pool defaults from the environment, as OpenMP reads OMP_NUM_THREADS and
 * OMP_PROC_BIND: WEFT_WORKERS and WEFT_PIN. */
#ifndef WEFT_ENV_H
#define WEFT_ENV_H

#include "weft.h"

/* Apply the environment's defaults to o (weft_pool_options_init). The
 * variables are read once per process, at the first call; a malformed
 * value is reported once on stderr and ignored. Any thread. */
void weft__env_defaults(weft_pool_options *o);

#endif
