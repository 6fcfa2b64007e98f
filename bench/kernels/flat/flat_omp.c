/* Flat spawns with OpenMP tasks: one task per child from a single thread,
 * then taskwait. */
#include <omp.h>
#include <stdlib.h>

#include "flat.h"

static uint64_t run(uint64_t *vals, uint64_t n)
{
#pragma omp parallel
#pragma omp single
    {
        for (uint64_t i = 0; i < n; i++) {
#pragma omp task firstprivate(i)
            vals[i] = flat_child(i);
        }
#pragma omp taskwait
    }
    return flat_sum(vals, n);
}

int main(int argc, char **argv)
{
    bench_opts o = bench_parse(argc, argv);
    uint64_t n = (uint64_t)bench_arg_ll(argc, argv, "--n", FLAT_DEFAULT_N);
    uint64_t *vals = malloc(n * sizeof(*vals));
    if (vals == NULL)
        bench_fail("out of memory");
    omp_set_num_threads((int)o.workers);
    (void)run(vals, n < 1000 ? n : 1000); /* warm-up: starts the team */
    flat_measure("omp", o.workers, o.reps, vals, n, run);
    free(vals);
    return 0;
}
