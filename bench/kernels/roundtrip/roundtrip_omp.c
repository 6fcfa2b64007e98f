/* roundtrip with OpenMP. OpenMP has no submission from outside a team, so
 * this is the nearest thing: main opens a parallel region (waking the idle
 * team), one task is created and run, and the region joins. With one worker
 * there is no other thread, so the number is a floor, not a hand-off. */
#include <omp.h>

#include "bench.h"
#include "roundtrip.h"

static void once(void)
{
    int v = 0;
#pragma omp parallel
#pragma omp single
    {
#pragma omp task shared(v)
        v = ROUNDTRIP_MAGIC;
    }
    if (v != ROUNDTRIP_MAGIC)
        bench_fail("roundtrip: wrong result %d", v);
}

int main(int argc, char **argv)
{
    roundtrip_opts o = roundtrip_parse(argc, argv);
    omp_set_num_threads((int)o.workers);
    once(); /* warm-up: starts the team */
    for (unsigned rep = 0; rep < o.reps; rep++) {
        uint64_t idle_ns, idle_cpu = roundtrip_idle(&o, &idle_ns);
        uint64_t t0 = bench_now_ns();
        once();
        roundtrip_report("omp", &o, rep, bench_now_ns() - t0, idle_ns, idle_cpu);
    }
    return 0;
}
