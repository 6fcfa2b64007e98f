/* Two coarse leaves of fork/join, as numeric code passes them: a parent
 * forks leaf A, runs leaf B itself, and joins, after the pool sat idle. On
 * 2 workers the pair should take one leaf's time: the sleeping worker must
 * get A while the parent runs B. */
#ifndef BENCH_COARSE_H
#define BENCH_COARSE_H

#include <stdint.h>

#include "bench.h"

#define COARSE_DEFAULT_MS 100
#define COARSE_IDLE_MS 50 /* idle before each pair: the other workers go to sleep */

/* One leaf: `ms` milliseconds of dependent integer work, returning a value
 * that depends on every round. */
static inline uint64_t coarse_leaf(uint64_t seed, uint64_t rounds)
{
    return bench_work(seed, (unsigned)rounds);
}

/* Rounds of splitmix64 that take about `ms` milliseconds here, measured
 * once per process. */
static inline uint64_t coarse_rounds_for(unsigned ms)
{
    uint64_t t0 = bench_now_ns();
    volatile uint64_t sink = bench_work(1, 1000000);
    (void)sink;
    uint64_t per_million = bench_now_ns() - t0;
    return per_million ? (uint64_t)ms * 1000000ull * 1000000ull / per_million : 1000000;
}

#define COARSE_EXTRA "ms=%u"

#endif /* BENCH_COARSE_H */
