// Flat spawns with oneTBB: one task_group::run per child from one task, then wait.
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_group.h>

#include <vector>

#include "flat.h"

static uint64_t run(uint64_t *vals, uint64_t n)
{
    tbb::task_group g;
    for (uint64_t i = 0; i < n; i++)
        g.run([vals, i] { vals[i] = flat_child(i); });
    g.wait();
    return flat_sum(vals, n);
}

int main(int argc, char **argv)
{
    bench_opts o = bench_parse(argc, argv);
    uint64_t n = (uint64_t)bench_arg_ll(argc, argv, "--n", FLAT_DEFAULT_N);
    std::vector<uint64_t> vals(n);
    tbb::global_control gc(tbb::global_control::max_allowed_parallelism, o.workers);
    (void)run(vals.data(), n < 1000 ? n : 1000); // warm-up: starts the workers
    flat_measure("tbb", o.workers, o.reps, vals.data(), n, run);
    return 0;
}
