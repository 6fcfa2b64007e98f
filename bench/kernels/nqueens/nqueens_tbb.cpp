// nqueens(n) with oneTBB: one task_group::run per free square, then wait.
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_group.h>

#include "bench.h"
#include "nqueens.h"

static uint64_t solve(unsigned n, nq_node s)
{
    if (s.row == n)
        return 1;
    uint64_t counts[NQ_MAX];
    unsigned k = 0;
    tbb::task_group g;
    for (uint32_t f = nq_free(n, &s); f != 0; f &= f - 1, k++) {
        nq_node c = nq_child(&s, f & -f);
        uint64_t *slot = &counts[k];
        g.run([n, c, slot] { *slot = solve(n, c); });
    }
    g.wait();
    uint64_t total = 0;
    for (unsigned i = 0; i < k; i++)
        total += counts[i];
    return total;
}

int main(int argc, char **argv)
{
    bench_opts o = bench_parse(argc, argv);
    unsigned n = nq_parse_n(argc, argv);
    uint64_t spawns = nq_spawns(n, nq_root());
    tbb::global_control gc(tbb::global_control::max_allowed_parallelism, o.workers);
    nq_check(8, solve(8, nq_root())); // warm-up: starts the workers
    for (unsigned rep = 0; rep < o.reps; rep++) {
        uint64_t t0 = bench_now_ns();
        uint64_t r = solve(n, nq_root());
        uint64_t ns = bench_now_ns() - t0;
        nq_check(n, r);
        bench_report("nqueens", "tbb", o.workers, rep, ns, "n=%u spawns=%" PRIu64, n, spawns);
    }
    return 0;
}
