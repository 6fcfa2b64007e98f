// fib(n) with oneTBB: run fib(n-1) in a task_group, fib(n-2) inline, wait.
// --variant invoke uses tbb::parallel_invoke instead (no task_group_context).
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/parallel_invoke.h>
#include <oneapi/tbb/task_group.h>

#include "bench.h"
#include "fib.h"

static uint64_t fib_tg(unsigned n)
{
    if (n < 2)
        return n;
    uint64_t x = 0;
    tbb::task_group g;
    g.run([&] { x = fib_tg(n - 1); });
    uint64_t y = fib_tg(n - 2);
    g.wait();
    return x + y;
}

static uint64_t fib_inv(unsigned n)
{
    if (n < 2)
        return n;
    uint64_t x = 0, y = 0;
    tbb::parallel_invoke([&] { x = fib_inv(n - 1); }, [&] { y = fib_inv(n - 2); });
    return x + y;
}

int main(int argc, char **argv)
{
    bench_opts o = bench_parse(argc, argv);
    unsigned n = (unsigned)bench_arg_ll(argc, argv, "--n", FIB_DEFAULT_N);
    bool invoke = strcmp(bench_arg_str(argc, argv, "--variant", "task_group"), "invoke") == 0;
    tbb::global_control gc(tbb::global_control::max_allowed_parallelism, o.workers);
    uint64_t (*fib)(unsigned) = invoke ? fib_inv : fib_tg;
    (void)fib(20); // warm-up: starts the workers
    for (unsigned rep = 0; rep < o.reps; rep++) {
        uint64_t t0 = bench_now_ns();
        uint64_t r = fib(n);
        uint64_t ns = bench_now_ns() - t0;
        if (r != fib_expected(n))
            bench_fail("fib(%u) = %" PRIu64 ", expected %" PRIu64, n, r, fib_expected(n));
        bench_report("fib", invoke ? "tbb-invoke" : "tbb", o.workers, rep, ns, FIB_EXTRA, n,
                     fib_calls(n), fib_spawns(n));
    }
    return 0;
}
