/* Flat spawns: one task spawns n children of ~20 ns each, then syncs them
 * all. The probe for how work reaches thieves when a single task makes all
 * of it: a thief that takes one child per steal costs more than the child. */
#ifndef BENCH_FLAT_H
#define BENCH_FLAT_H

#include <stdint.h>

#include "bench.h"

/* Rounds of splitmix64 per child: about 20 ns of dependent work on this kind of machine. */
#define FLAT_WORK_ITERS 16
#define FLAT_DEFAULT_N 1000000

/* Child i's value. */
static inline uint64_t flat_child(uint64_t i)
{
    return bench_work(i, FLAT_WORK_ITERS);
}

/* The sum over all children, by the serial loop: the oracle. */
static inline uint64_t flat_expected(uint64_t n)
{
    uint64_t s = 0;
    for (uint64_t i = 0; i < n; i++)
        s += flat_child(i);
    return s;
}

/* The children's values, added up: what every variant checks. */
static inline uint64_t flat_sum(const uint64_t *vals, uint64_t n)
{
    uint64_t s = 0;
    for (uint64_t i = 0; i < n; i++)
        s += vals[i];
    return s;
}

#define FLAT_EXTRA "n=%" PRIu64 " spawns=%" PRIu64

/* reps timed runs of run(vals, n) (all n children, then the sum of their
 * values) for system at workers: each sum checked, each time reported. */
static inline void flat_measure(const char *system, unsigned workers, unsigned reps,
                                uint64_t *vals, uint64_t n,
                                uint64_t (*run)(uint64_t *vals, uint64_t n))
{
    uint64_t want = flat_expected(n);
    for (unsigned rep = 0; rep < reps; rep++) {
        uint64_t t0 = bench_now_ns();
        uint64_t s = run(vals, n);
        uint64_t ns = bench_now_ns() - t0;
        if (s != want)
            bench_fail("sum %" PRIu64 ", expected %" PRIu64, s, want);
        bench_report("flat", system, workers, rep, ns, FLAT_EXTRA, n, n);
    }
}

#endif /* BENCH_FLAT_H */
