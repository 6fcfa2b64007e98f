/* nqueens(n), the sequential twin. */
#include "bench.h"
#include "nqueens.h"

__attribute__((noipa)) static uint64_t solve(unsigned n, nq_node s)
{
    if (s.row == n)
        return 1;
    uint64_t total = 0;
    for (uint32_t f = nq_free(n, &s); f != 0; f &= f - 1)
        total += solve(n, nq_child(&s, f & -f));
    return total;
}

int main(int argc, char **argv)
{
    bench_opts o = bench_parse(argc, argv);
    unsigned n = nq_parse_n(argc, argv);
    uint64_t spawns = nq_spawns(n, nq_root());
    for (unsigned rep = 0; rep < o.reps; rep++) {
        uint64_t t0 = bench_now_ns();
        uint64_t r = solve(n, nq_root());
        uint64_t ns = bench_now_ns() - t0;
        nq_check(n, r);
        bench_report("nqueens", "serial", 1, rep, ns, "n=%u spawns=%" PRIu64, n, spawns);
    }
    return 0;
}
