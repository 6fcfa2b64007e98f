/* The lazy map, serially: make item i, map it, add it to the sum. */
#include "lazymap.h"

int main(int argc, char **argv)
{
    bench_opts o = bench_parse(argc, argv);
    size_t n = (size_t)bench_arg_ll(argc, argv, "--n", LAZYMAP_DEFAULT_N);
    uint64_t want = lazymap_expected(n);
    for (unsigned rep = 0; rep < o.reps; rep++) {
        uint64_t t0 = bench_now_ns();
        uint64_t sum = 0;
        for (size_t i = 0; i < n; i++)
            sum += lazymap_fn(lazymap_item(i));
        uint64_t ns = bench_now_ns() - t0;
        lazymap_check(n, sum, want);
        bench_report("lazymap", "serial", 1, rep, ns, "n=%zu", n);
    }
    return 0;
}
