/* Tasks and oracles shared by several test files (unit and stress): a task
 * that returns its argument, fib by nested futures with its serial oracle,
 * and the order-checking reduction.
 * Header-only and free of Criterion, like weft_test.h. */
#ifndef WEFT_TASKS_H
#define WEFT_TASKS_H

#include <stddef.h>
#include <stdint.h>

#include "weft.h"

/* Returns its argument as its result. */
static inline int wt_value_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    *result = arg;
    return 0;
}

/* fib(n) by a loop: the oracle. */
static inline uint64_t wt_fib(unsigned n)
{
    uint64_t a = 0, b = 1;
    for (unsigned i = 0; i < n; i++) {
        uint64_t t = a + b;
        a = b;
        b = t;
    }
    return a;
}

/* fib(n) by spawn/sync (arg: n; *result: fib(n)): every call is a spawned
 * child; a failed spawn or child is returned. */
static inline int wt_fib_spawn(weft_ctx *ctx, void *arg, void **result)
{
    uintptr_t n = (uintptr_t)arg;
    if (n < 2) {
        *result = (void *)n;
        return 0;
    }
    weft_group g;
    void *a = NULL, *b = NULL;
    weft_group_init(&g, ctx);
    int rc = weft_spawn(&g, wt_fib_spawn, (void *)(n - 1), &a);
    if (rc == WEFT_OK)
        rc = weft_spawn(&g, wt_fib_spawn, (void *)(n - 2), &b);
    int rs = weft_sync(&g);
    if (rc != WEFT_OK)
        return rc;
    if (rs != WEFT_OK)
        return rs;
    *result = (void *)((uintptr_t)a + (uintptr_t)b);
    return 0;
}

/* fib(n) by nested futures: each task submits its two halves and waits on
 * them (arg: n; *result: fib(n)). Python's ThreadPoolExecutor(2) deadlocks on
 * this; a helping wait does not. */
static inline int wt_fib_futures(weft_ctx *ctx, void *arg, void **result)
{
    uintptr_t n = (uintptr_t)arg;
    if (n < 2) {
        *result = (void *)n;
        return 0;
    }
    weft_pool *p = weft_ctx_pool(ctx);
    weft_future *a = NULL, *b = NULL;
    int rc = weft_submit(p, wt_fib_futures, (void *)(n - 1), NULL, &a);
    if (rc != WEFT_OK)
        return rc;
    rc = weft_submit(p, wt_fib_futures, (void *)(n - 2), NULL, &b);
    if (rc != WEFT_OK) {
        weft_future_wait(a, WEFT_FOREVER);
        weft_future_release(a);
        return rc;
    }
    void *va = NULL, *vb = NULL;
    int ra = weft_future_result(a, WEFT_FOREVER, &va);
    int rb = weft_future_result(b, WEFT_FOREVER, &vb);
    weft_future_release(a);
    weft_future_release(b);
    if (ra != WEFT_OK)
        return ra;
    if (rb != WEFT_OK)
        return rb;
    *result = (void *)((uintptr_t)va + (uintptr_t)vb);
    return 0;
}

/* Index ranges as strings: (first, last, count, ok). Concatenating [a..b]
 * with [c..d] is valid only when c == b + 1, so any reordering of partials
 * in weft_parallel_reduce shows up as ok == 0. Identity: count == 0. */
struct wt_seq {
    uint64_t first, last, count, ok;
};

static inline int wt_seq_fold(weft_ctx *ctx, size_t lo, size_t hi, void *acc, void *ud)
{
    (void)ctx;
    (void)ud;
    struct wt_seq *s = acc;
    for (size_t i = lo; i < hi; i++) {
        if (s->count == 0) {
            s->first = i;
            s->ok = 1;
        } else if (i != s->last + 1) {
            s->ok = 0;
        }
        s->last = i;
        s->count++;
    }
    return 0;
}

static inline void wt_seq_combine(void *into, const void *from, void *ud)
{
    (void)ud;
    struct wt_seq *a = into;
    const struct wt_seq *b = from;
    if (b->count == 0)
        return;
    if (a->count == 0) {
        *a = *b;
        return;
    }
    a->ok = a->ok && b->ok && b->first == a->last + 1;
    a->last = b->last;
    a->count += b->count;
}

#endif
