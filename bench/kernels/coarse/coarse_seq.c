/* Two coarse leaves one after the other: the serial time of the pair. */
#include <time.h>

#include "coarse.h"

int main(int argc, char **argv)
{
    bench_opts o = bench_parse(argc, argv);
    unsigned ms = (unsigned)bench_arg_ll(argc, argv, "--ms", COARSE_DEFAULT_MS);
    uint64_t rounds = coarse_rounds_for(ms);
    for (unsigned rep = 0; rep < o.reps; rep++) {
        nanosleep(&(struct timespec){0, COARSE_IDLE_MS * 1000000L}, NULL);
        uint64_t t0 = bench_now_ns();
        uint64_t a = coarse_leaf(1, rounds), b = coarse_leaf(2, rounds);
        uint64_t ns = bench_now_ns() - t0;
        if (a == b)
            bench_fail("the two leaves computed the same value");
        bench_report("coarse", "serial", 1, rep, ns, COARSE_EXTRA, ms);
    }
    return 0;
}
