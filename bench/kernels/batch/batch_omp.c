/* batch with OpenMP: one thread of the team creates every task
 * (`#pragma omp task` in a single region), the barrier awaits them. */
#include <omp.h>

#include "bench.h"
#include "batch.h"

static uint64_t run(uint64_t *out, size_t n)
{
#pragma omp parallel
#pragma omp single
    for (size_t i = 0; i < n; i++) {
#pragma omp task firstprivate(i)
        out[i] = batch_task(i);
    }
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += out[i];
    return sum;
}

int main(int argc, char **argv)
{
    bench_opts o = bench_parse(argc, argv);
    size_t n = batch_parse_n(argc, argv);
    uint64_t want = batch_expected(n);
    uint64_t *out = calloc(n, sizeof *out);
    if (out == NULL)
        bench_fail("out of memory");
    omp_set_num_threads((int)o.workers);
    (void)run(out, 1000); /* warm-up: starts the team */
    for (unsigned rep = 0; rep < o.reps; rep++) {
        memset(out, 0, n * sizeof *out);
        uint64_t t0 = bench_now_ns();
        uint64_t sum = run(out, n);
        uint64_t ns = bench_now_ns() - t0;
        batch_check(n, sum, want);
        bench_report("batch", "omp", o.workers, rep, ns, "tasks=%zu", n);
    }
    free(out);
    return 0;
}
