/* fib(n), the sequential twin: Ts for work efficiency and spawn overhead.
 * It must make every call the parallel variants make: noipa and the empty asm
 * stop gcc from inlining the recursion into itself and from turning the second
 * call into a loop (plain -O2 runs fib(37) in a fifth of the time that way). */
#include "bench.h"
#include "fib.h"

__attribute__((noipa)) static uint64_t fib(unsigned n)
{
    if (n < 2)
        return n;
    uint64_t x = fib(n - 1);
    uint64_t y = fib(n - 2);
    __asm__ volatile("" : "+r"(y));
    return x + y;
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
