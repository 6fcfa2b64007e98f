/* Round trip: the pool sits idle for --idle-ms (default 200), then one trivial
 * task goes from an external thread to a worker and its result comes back.
 * Each repetition reports the round-trip latency (ns) and the process CPU time
 * burnt during the idle sleep (idle_cpu_ns over idle_ns): the cost of the
 * workers' spinning or timers while nothing is queued. */
#ifndef BENCH_ROUNDTRIP_H
#define BENCH_ROUNDTRIP_H

#include "bench.h"

#define ROUNDTRIP_DEFAULT_REPS 30
#define ROUNDTRIP_MAGIC 42

typedef struct roundtrip_opts {
    unsigned workers, reps;
    uint64_t idle_ns;
} roundtrip_opts;

static inline roundtrip_opts roundtrip_parse(int argc, char **argv)
{
    bench_opts b = bench_parse(argc, argv);
    roundtrip_opts o;
    o.workers = b.workers;
    o.reps = (unsigned)bench_arg_ll(argc, argv, "--reps", ROUNDTRIP_DEFAULT_REPS);
    o.idle_ns = (uint64_t)bench_arg_ll(argc, argv, "--idle-ms", 200) * 1000000ull;
    return o;
}

/* Sleep for the idle period; return the CPU the process burnt meanwhile. */
static inline uint64_t roundtrip_idle(const roundtrip_opts *o, uint64_t *idle_ns)
{
    uint64_t c0 = bench_cpu_ns(), t0 = bench_now_ns();
    bench_sleep_ns(o->idle_ns);
    *idle_ns = bench_now_ns() - t0;
    return bench_cpu_ns() - c0;
}

static inline void roundtrip_report(const char *system, const roundtrip_opts *o, unsigned rep,
                                    uint64_t ns, uint64_t idle_ns, uint64_t idle_cpu_ns)
{
    bench_report("roundtrip", system, o->workers, rep, ns,
                 "idle_ns=%" PRIu64 " idle_cpu_ns=%" PRIu64, idle_ns, idle_cpu_ns);
}

#endif /* BENCH_ROUNDTRIP_H */
