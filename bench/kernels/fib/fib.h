/* fib(n), naive and without cutoff: the fork/join overhead probe.
 * Every parallel variant spawns fib(n-1), computes fib(n-2) inline and syncs:
 * one spawn per internal call, so spawns = calls(n) - leaves(n) = F(n+1) - 1. */
#ifndef BENCH_FIB_H
#define BENCH_FIB_H

#include <stdint.h>

/* F(n) by iteration: the correctness oracle. */
static inline uint64_t fib_expected(unsigned n)
{
    uint64_t a = 0, b = 1;
    for (unsigned i = 0; i < n; i++) {
        uint64_t t = a + b;
        a = b;
        b = t;
    }
    return a;
}

/* Calls made by the naive recursion: 2 F(n+1) - 1. */
static inline uint64_t fib_calls(unsigned n) { return 2 * fib_expected(n + 1) - 1; }

/* Spawns (internal calls): F(n+1) - 1. */
static inline uint64_t fib_spawns(unsigned n) { return fib_expected(n + 1) - 1; }

#define FIB_DEFAULT_N 37
#define FIB_EXTRA "n=%u calls=%" PRIu64 " spawns=%" PRIu64

#endif /* BENCH_FIB_H */
