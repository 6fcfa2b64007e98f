/* The lazy map: sum over i in [0, n) of splitmix64(item(i)), the items
 * made as they are needed and the results consumed in input order, with at
 * most `window` items made and not yet consumed: memory stays at the
 * window whatever n is (Executor.map with buffersize). Every system checks
 * the sum against the serial one (computed untimed). */
#ifndef BENCH_LAZYMAP_H
#define BENCH_LAZYMAP_H

#include <stdint.h>

#include "bench.h"

#define LAZYMAP_DEFAULT_N 10000000ll
#define LAZYMAP_DEFAULT_WINDOW 10000ll

/* Item i of the input. */
static inline uint64_t lazymap_item(size_t i)
{
    return i * 0x9e3779b97f4a7c15ull;
}

static inline uint64_t lazymap_fn(uint64_t x)
{
    return bench_splitmix64(x);
}

static inline uint64_t lazymap_expected(size_t n)
{
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += lazymap_fn(lazymap_item(i));
    return s;
}

static inline void lazymap_check(size_t n, uint64_t sum, uint64_t want)
{
    if (sum != want)
        bench_fail("lazymap: sum over %zu items %016" PRIx64 ", expected %016" PRIx64, n, sum,
                   want);
}

#endif /* BENCH_LAZYMAP_H */
