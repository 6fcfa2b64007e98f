/* out[i] = splitmix64(in[i]) over n uint64 (default 10 M): the data-parallel
 * probe. Inputs are filled and outputs cleared before each timed run. */
#ifndef BENCH_MAP_H
#define BENCH_MAP_H

#include <stdint.h>

#include "bench.h"

#define MAP_DEFAULT_N 10000000ll

static inline uint64_t map_fn(uint64_t x) { return bench_splitmix64(x); }

typedef struct map_data {
    size_t n;
    uint64_t *in, *out;
} map_data;

static inline map_data map_setup(int argc, char **argv)
{
    map_data d;
    d.n = (size_t)bench_arg_ll(argc, argv, "--n", MAP_DEFAULT_N);
    d.in = (uint64_t *)malloc(d.n * sizeof(uint64_t));
    d.out = (uint64_t *)malloc(d.n * sizeof(uint64_t));
    if (d.in == NULL || d.out == NULL)
        bench_fail("out of memory for %zu items", d.n);
    for (size_t i = 0; i < d.n; i++)
        d.in[i] = i * 0x9e3779b97f4a7c15ull;
    return d;
}

/* Clear the outputs (untimed) so a run that skips items cannot pass. */
static inline void map_clear(map_data *d) { memset(d->out, 0, d->n * sizeof(uint64_t)); }

static inline void map_check(const map_data *d)
{
    for (size_t i = 0; i < d->n; i++)
        if (d->out[i] != map_fn(d->in[i]))
            bench_fail("map: out[%zu] = %016" PRIx64 ", expected %016" PRIx64, i, d->out[i],
                       map_fn(d->in[i]));
}

/* The timed repetitions every variant makes: clear, time run(d, ctx),
 * check, report as `system` (extra: appended to the report line). */
static inline void map_reps(map_data *d, const char *system, unsigned workers, unsigned reps,
                            void (*run)(map_data *, void *), void *ctx, const char *extra)
{
    for (unsigned rep = 0; rep < reps; rep++) {
        map_clear(d);
        uint64_t t0 = bench_now_ns();
        run(d, ctx);
        uint64_t ns = bench_now_ns() - t0;
        map_check(d);
        bench_report("map", system, workers, rep, ns, "n=%zu%s", d->n, extra);
    }
}

static inline void map_free(map_data *d)
{
    free(d->in);
    free(d->out);
}

#endif /* BENCH_MAP_H */
