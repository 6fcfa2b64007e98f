/* Pool defaults from the environment (env.h).
 *
 *   WEFT_WORKERS=N   workers of a pool whose options leave workers at 0:
 *                    1 .. WEFT_MAX_WORKERS
 *   WEFT_PIN=P       pinning policy: none, compact or scatter
 *
 * Read once, under pthread_once (getenv is not safe against a concurrent
 * setenv, and OpenMP users expect the values of the program's start). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "env.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static unsigned env_workers; /* 0: not set */
static int env_pin = -1;     /* -1: not set */

static void read_workers(void)
{
    const char *v = getenv("WEFT_WORKERS");
    if (v == NULL || *v == '\0')
        return;
    char *end;
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (errno != 0 || *end != '\0' || *v == '-' || n == 0 || n > WEFT_MAX_WORKERS) {
        fprintf(stderr, "weft: ignoring WEFT_WORKERS=\"%s\" (want 1..%u)\n", v,
                WEFT_MAX_WORKERS);
        return;
    }
    env_workers = (unsigned)n;
}

static void read_pin(void)
{
    const char *v = getenv("WEFT_PIN");
    if (v == NULL || *v == '\0')
        return;
    static const struct {
        const char *name;
        weft_pin pin;
    } names[] = {{"none", WEFT_PIN_NONE}, {"compact", WEFT_PIN_COMPACT},
                 {"scatter", WEFT_PIN_SCATTER}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcasecmp(v, names[i].name) == 0) {
            env_pin = (int)names[i].pin;
            return;
        }
    }
    fprintf(stderr, "weft: ignoring WEFT_PIN=\"%s\" (want none, compact or scatter)\n", v);
}

static void read_env(void)
{
    read_workers();
    read_pin();
}

void weft__env_defaults(weft_pool_options *o)
{
    pthread_once(&once, read_env);
    /* The values are published by pthread_once to every caller. */
    o->workers = env_workers;
    if (env_pin >= 0)
        o->pin = (weft_pin)env_pin;
}
