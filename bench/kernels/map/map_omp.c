/* map with OpenMP: parallel for schedule(static). */
#include <omp.h>

#include "bench.h"
#include "map.h"

static void run(map_data *d, void *unused)
{
    (void)unused;
    uint64_t *in = d->in, *out = d->out;
    long n = (long)d->n;
#pragma omp parallel for schedule(static)
    for (long i = 0; i < n; i++)
        out[i] = map_fn(in[i]);
}

int main(int argc, char **argv)
{
    bench_opts o = bench_parse(argc, argv);
    map_data d = map_setup(argc, argv);
    omp_set_num_threads((int)o.workers);
#pragma omp parallel
    { /* warm-up: starts the team */
    }
    map_reps(&d, "omp", o.workers, o.reps, run, NULL, "");
    map_free(&d);
    return 0;
}
