/* Helpers for the weft variants: pool creation and running one root task. */
#ifndef WEFT_BENCH_WEFT_H
#define WEFT_BENCH_WEFT_H

#include <weft.h>

#include "bench.h"

/* A pool of `workers` unpinned workers with default options; exits on failure. */
static inline weft_pool *bench_weft_pool(unsigned workers)
{
    weft_pool_options po;
    weft_pool_options_init(&po);
    po.workers = workers;
    po.pin = WEFT_PIN_NONE;
    weft_pool *pool = NULL;
    int rc = weft_pool_create(&pool, &po);
    if (rc != WEFT_OK)
        bench_fail("weft_pool_create: %s", weft_strerror(rc));
    return pool;
}

/* Submit fn(arg) from this (external) thread and wait for its value. */
static inline void *bench_weft_run(weft_pool *pool, weft_fn fn, void *arg)
{
    weft_future *f = NULL;
    int rc = weft_submit(pool, fn, arg, NULL, &f);
    if (rc != WEFT_OK)
        bench_fail("weft_submit: %s", weft_strerror(rc));
    void *value = NULL;
    rc = weft_future_result(f, WEFT_FOREVER, &value);
    if (rc != WEFT_OK)
        bench_fail("root task failed: %s", weft_strerror(rc));
    weft_future_release(f);
    return value;
}

/* Submit fn with argument i, with a future in fs[i], for i in [0, n). */
static inline void bench_weft_submit_each(weft_pool *pool, weft_fn fn, weft_future **fs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int rc = weft_submit(pool, fn, (void *)(uintptr_t)i, NULL, &fs[i]);
        if (rc != WEFT_OK)
            bench_fail("weft_submit: %s", weft_strerror(rc));
    }
}

/* Wait for each of fs[0..n), in order, sum their values and release them. */
static inline uint64_t bench_weft_collect(weft_future **fs, size_t n)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        void *v = NULL;
        int rc = weft_future_result(fs[i], WEFT_FOREVER, &v);
        if (rc != WEFT_OK)
            bench_fail("task %zu: %s", i, weft_strerror(rc));
        sum += (uintptr_t)v;
        weft_future_release(fs[i]);
    }
    return sum;
}

/* Sum of the pool's steal counters (a recent snapshot). */
static inline uint64_t bench_weft_steals(const weft_pool *pool)
{
    weft_worker_stats st[64];
    int n = weft_pool_stats(pool, st, 64);
    uint64_t sum = 0;
    for (int i = 0; i < n && i < 64; i++)
        sum += st[i].steals;
    return sum;
}

static inline void bench_weft_destroy(weft_pool *pool)
{
    int rc = weft_pool_destroy(pool);
    if (rc != WEFT_OK)
        bench_fail("weft_pool_destroy: %s", weft_strerror(rc));
}

#endif /* WEFT_BENCH_WEFT_H */
