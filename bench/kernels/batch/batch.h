/* One million tiny tasks (~100 ns of integer work each) submitted from one
 * external thread, then all awaited: the submission-path probe. Task i
 * computes bench_work(i, BENCH_WORK_ITERS); every variant sums the values. */
#ifndef BENCH_BATCH_H
#define BENCH_BATCH_H

#include <stdint.h>

#include "bench.h"

#define BATCH_DEFAULT_N 1000000ll

static inline uint64_t batch_task(uint64_t i) { return bench_work(i, BENCH_WORK_ITERS); }

static inline size_t batch_parse_n(int argc, char **argv)
{
    return (size_t)bench_arg_ll(argc, argv, "--n", BATCH_DEFAULT_N);
}

/* The expected sum, computed serially (untimed). */
static inline uint64_t batch_expected(size_t n)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += batch_task(i);
    return sum;
}

static inline void batch_check(size_t n, uint64_t got, uint64_t want)
{
    if (got != want)
        bench_fail("batch(%zu): sum %016" PRIx64 ", expected %016" PRIx64, n, got, want);
}

#endif /* BENCH_BATCH_H */
