/* map with OpenMP: parallel for schedule(static). */
#include <omp.h>

#include "bench.h"
#include "map.h"

static void run(map_data *d)
{
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
    for (unsigned rep = 0; rep < o.reps; rep++) {
        map_clear(&d);
        uint64_t t0 = bench_now_ns();
        run(&d);
        uint64_t ns = bench_now_ns() - t0;
        map_check(&d);
        bench_report("map", "omp", o.workers, rep, ns, "n=%zu", d.n);
    }
    map_free(&d);
    return 0;
}
