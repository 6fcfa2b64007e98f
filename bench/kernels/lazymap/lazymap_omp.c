/* The lazy map with OpenMP: a window of items at a time, made serially,
 * mapped by a parallel for, then summed in order (OpenMP has no pipeline;
 * this bounds memory the same way). */
#include <omp.h>
#include <stdlib.h>

#include "lazymap.h"

int main(int argc, char **argv)
{
    bench_opts o = bench_parse(argc, argv);
    size_t n = (size_t)bench_arg_ll(argc, argv, "--n", LAZYMAP_DEFAULT_N);
    size_t window = (size_t)bench_arg_ll(argc, argv, "--window", LAZYMAP_DEFAULT_WINDOW);
    uint64_t want = lazymap_expected(n);
    uint64_t *buf = malloc(window * sizeof *buf);
    if (buf == NULL || window == 0)
        bench_fail("window of %zu items", window);
    omp_set_num_threads((int)o.workers);
#pragma omp parallel
    {
    } /* warm-up: starts the team */
    for (unsigned rep = 0; rep < o.reps; rep++) {
        uint64_t t0 = bench_now_ns();
        uint64_t sum = 0;
        for (size_t base = 0; base < n; base += window) {
            size_t k = n - base < window ? n - base : window;
            for (size_t j = 0; j < k; j++)
                buf[j] = lazymap_item(base + j);
#pragma omp parallel for schedule(static)
            for (size_t j = 0; j < k; j++)
                buf[j] = lazymap_fn(buf[j]);
            for (size_t j = 0; j < k; j++)
                sum += buf[j];
        }
        uint64_t ns = bench_now_ns() - t0;
        lazymap_check(n, sum, want);
        bench_report("lazymap", "omp", o.workers, rep, ns, "n=%zu window=%zu", n, window);
    }
    free(buf);
    return 0;
}
