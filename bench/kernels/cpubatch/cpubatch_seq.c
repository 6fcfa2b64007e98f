/* cpubatch, the sequential twin. */
#include "bench.h"
#include "cpubatch.h"

int main(int argc, char **argv)
{
    bench_opts o = bench_parse(argc, argv);
    cpubatch_opts c = cpubatch_parse(argc, argv);
    for (unsigned rep = 0; rep < o.reps; rep++) {
        uint64_t t0 = bench_now_ns();
        uint64_t sum = 0;
        for (size_t i = 0; i < c.n; i++)
            sum += cpubatch_task(i, c.iters);
        uint64_t ns = bench_now_ns() - t0;
        cpubatch_check(&c, sum);
        bench_report("cpubatch", "serial", 1, rep, ns, CPUBATCH_EXTRA, c.n, c.iters);
    }
    return 0;
}
