/* 64 CPU-bound tasks of ~20 ms each (CPUBATCH_ITERS dependent splitmix64
 * rounds, calibrated on the development VM): the throughput probe where the
 * scheduler should vanish. Task i computes bench_work(i + 1, iters). */
#ifndef BENCH_CPUBATCH_H
#define BENCH_CPUBATCH_H

#include <stdint.h>

#include "bench.h"

#define CPUBATCH_DEFAULT_N 64
#define CPUBATCH_ITERS 5500000ull
#define CPUBATCH_SUM64 0xc7dc3c55fae5774aull
#define CPUBATCH_SUM16 0x24387e47bcefb37eull

static inline uint64_t cpubatch_task(uint64_t i, uint64_t iters)
{
    uint64_t x = i + 1;
    for (uint64_t k = 0; k < iters; k++)
        x = bench_splitmix64(x);
    return x;
}

typedef struct cpubatch_opts {
    size_t n;
    uint64_t iters;
} cpubatch_opts;

static inline cpubatch_opts cpubatch_parse(int argc, char **argv)
{
    cpubatch_opts c;
    c.n = (size_t)bench_arg_ll(argc, argv, "--n", CPUBATCH_DEFAULT_N);
    c.iters = (uint64_t)bench_arg_ll(argc, argv, "--iters", CPUBATCH_ITERS);
    return c;
}

/* Sums of the first n task values at the default iteration count, recorded
 * from cpubatch_seq; other sizes are computed serially before timing. */
static inline uint64_t cpubatch_expected(const cpubatch_opts *c)
{
    if (c->iters == CPUBATCH_ITERS && c->n == 64)
        return CPUBATCH_SUM64;
    if (c->iters == CPUBATCH_ITERS && c->n == 16)
        return CPUBATCH_SUM16;
    uint64_t sum = 0;
    for (size_t i = 0; i < c->n; i++)
        sum += cpubatch_task(i, c->iters);
    return sum;
}

static inline void cpubatch_check(const cpubatch_opts *c, uint64_t got)
{
    uint64_t want = cpubatch_expected(c);
    if (got != want)
        bench_fail("cpubatch(%zu): sum %016" PRIx64 ", expected %016" PRIx64, c->n, got, want);
}

#define CPUBATCH_EXTRA "tasks=%zu iters=%" PRIu64

#endif /* BENCH_CPUBATCH_H */
