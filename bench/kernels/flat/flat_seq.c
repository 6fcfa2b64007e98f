/* Flat spawns, the sequential twin: the same n calls, one after the other,
 * each storing its value (as the parallel variants store their children's). */
#include <stdlib.h>

#include "flat.h"

__attribute__((noipa)) static void child(uint64_t *out, uint64_t i)
{
    *out = flat_child(i);
}

static uint64_t run(uint64_t *vals, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        child(&vals[i], i);
    return flat_sum(vals, n);
}

int main(int argc, char **argv)
{
    bench_opts o = bench_parse(argc, argv);
    uint64_t n = (uint64_t)bench_arg_ll(argc, argv, "--n", FLAT_DEFAULT_N);
    uint64_t *vals = malloc(n * sizeof(*vals));
    if (vals == NULL)
        bench_fail("out of memory");
    flat_measure("serial", 1, o.reps, vals, n, run);
    free(vals);
    return 0;
}
