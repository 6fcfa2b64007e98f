/* Flat spawns, the sequential twin: the same n calls, one after the other,
 * each storing its value (as the parallel variants store their children's). */
#include <stdlib.h>

#include "flat.h"

__attribute__((noipa)) static void child(uint64_t *out, uint64_t i)
{
    *out = flat_child(i);
}

int main(int argc, char **argv)
{
    bench_opts o = bench_parse(argc, argv);
    uint64_t n = (uint64_t)bench_arg_ll(argc, argv, "--n", FLAT_DEFAULT_N);
    uint64_t *vals = malloc(n * sizeof(*vals));
    if (vals == NULL)
        bench_fail("out of memory");
    uint64_t want = flat_expected(n);
    for (unsigned rep = 0; rep < o.reps; rep++) {
        uint64_t t0 = bench_now_ns();
        for (uint64_t i = 0; i < n; i++)
            child(&vals[i], i);
        uint64_t s = flat_sum(vals, n);
        uint64_t ns = bench_now_ns() - t0;
        if (s != want)
            bench_fail("sum %" PRIu64 ", expected %" PRIu64, s, want);
        bench_report("flat", "serial", 1, rep, ns, FLAT_EXTRA, n, n);
    }
    free(vals);
    return 0;
}
