// batch with oneTBB: task_group::run from the main thread for every task,
// then task_group::wait (the main thread helps while it waits).
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_group.h>

#include "bench.h"
#include "batch.h"

static uint64_t run(uint64_t *out, size_t n)
{
    tbb::task_group g;
    for (size_t i = 0; i < n; i++)
        g.run([out, i] { out[i] = batch_task(i); });
    g.wait();
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
    uint64_t *out = static_cast<uint64_t *>(calloc(n, sizeof(uint64_t)));
    if (out == NULL)
        bench_fail("out of memory");
    tbb::global_control gc(tbb::global_control::max_allowed_parallelism, o.workers);
    (void)run(out, 1000); // warm-up: starts the workers
    for (unsigned rep = 0; rep < o.reps; rep++) {
        memset(out, 0, n * sizeof *out);
        uint64_t t0 = bench_now_ns();
        uint64_t sum = run(out, n);
        uint64_t ns = bench_now_ns() - t0;
        batch_check(n, sum, want);
        bench_report("batch", "tbb", o.workers, rep, ns, "tasks=%zu", n);
    }
    free(out);
    return 0;
}
