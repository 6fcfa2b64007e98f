/* fib(n) with OpenMP tasks: task for fib(n-1), fib(n-2) inline, taskwait. */
#include <omp.h>

#include "bench.h"
#include "fib.h"

static uint64_t fib(unsigned n)
{
    if (n < 2)
        return n;
    uint64_t x, y;
#pragma omp task shared(x) firstprivate(n)
    x = fib(n - 1);
    y = fib(n - 2);
#pragma omp taskwait
    return x + y;
}

static uint64_t run(unsigned n)
{
    uint64_t r = 0;
#pragma omp parallel
#pragma omp single
    r = fib(n);
    return r;
}

int main(int argc, char **argv)
{
    bench_opts o = bench_parse(argc, argv);
    unsigned n = (unsigned)bench_arg_ll(argc, argv, "--n", FIB_DEFAULT_N);
    omp_set_num_threads((int)o.workers);
    (void)run(20); /* warm-up: starts the team */
    for (unsigned rep = 0; rep < o.reps; rep++) {
        uint64_t t0 = bench_now_ns();
        uint64_t r = run(n);
        uint64_t ns = bench_now_ns() - t0;
        if (r != fib_expected(n))
            bench_fail("fib(%u) = %" PRIu64 ", expected %" PRIu64, n, r, fib_expected(n));
        bench_report("fib", "omp", o.workers, rep, ns, FIB_EXTRA, n, fib_calls(n),
                     fib_spawns(n));
    }
    return 0;
}
