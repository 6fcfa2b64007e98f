/* nqueens(n) with OpenMP: one task per free square, then taskwait. */
#include <omp.h>

#include "bench.h"
#include "nqueens.h"

static uint64_t solve(unsigned n, nq_node s)
{
    if (s.row == n)
        return 1;
    uint64_t counts[NQ_MAX];
    unsigned k = 0;
    for (uint32_t f = nq_free(n, &s); f != 0; f &= f - 1, k++) {
        nq_node c = nq_child(&s, f & -f);
#pragma omp task shared(counts) firstprivate(c, k, n)
        counts[k] = solve(n, c);
    }
#pragma omp taskwait
    uint64_t total = 0;
    for (unsigned i = 0; i < k; i++)
        total += counts[i];
    return total;
}

static uint64_t run(unsigned n)
{
    uint64_t r = 0;
#pragma omp parallel
#pragma omp single
    r = solve(n, nq_root());
    return r;
}

int main(int argc, char **argv)
{
    bench_opts o = bench_parse(argc, argv);
    unsigned n = nq_parse_n(argc, argv);
    uint64_t spawns = nq_spawns(n, nq_root());
    omp_set_num_threads((int)o.workers);
    nq_check(8, run(8)); /* warm-up: starts the team */
    for (unsigned rep = 0; rep < o.reps; rep++) {
        uint64_t t0 = bench_now_ns();
        uint64_t r = run(n);
        uint64_t ns = bench_now_ns() - t0;
        nq_check(n, r);
        bench_report("nqueens", "omp", o.workers, rep, ns, "n=%u spawns=%" PRIu64, n, spawns);
    }
    return 0;
}
