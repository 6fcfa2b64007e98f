/* fib(n), the sequential twin: Ts for work efficiency and spawn overhead. */
#include "bench.h"
#include "fib.h"

static uint64_t fib(unsigned n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

int main(int argc, char **argv)
{
    bench_opts o = bench_parse(argc, argv);
    unsigned n = (unsigned)bench_arg_ll(argc, argv, "--n", FIB_DEFAULT_N);
    for (unsigned rep = 0; rep < o.reps; rep++) {
        uint64_t t0 = bench_now_ns();
        uint64_t r = fib(n);
        uint64_t ns = bench_now_ns() - t0;
        if (r != fib_expected(n))
            bench_fail("fib(%u) = %" PRIu64 ", expected %" PRIu64, n, r, fib_expected(n));
        bench_report("fib", "serial", 1, rep, ns, FIB_EXTRA, n, fib_calls(n), fib_spawns(n));
    }
    return 0;
}
