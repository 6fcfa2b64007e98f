/* Test-only view of a future's wait-set links (its watchers, runtime/future.h).
 * Used by the unit and stress tests that check that waits remove their links. */
#ifndef WEFT_WATCHERS_H
#define WEFT_WATCHERS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "future.h"
#include "weft_test.h"

/* True once f's completer has closed its watcher stack (listeners.c: it then
 * fires the links; callbacks run after). acquire: pairs with the acq_rel
 * exchange that closes it. */
static inline bool wt_watchers_closed(weft_future *f)
{
    return atomic_load_explicit(&f->watchers, memory_order_acquire) == 1;
}

/* Poll (sleeping 10 us between reads) until f's watcher stack is closed or
 * timeout_ns has passed; returns whether it is. */
static inline bool wt_await_watchers_closed(weft_future *f, int64_t timeout_ns)
{
    int64_t end = wt_now_ns() + timeout_ns;
    while (!wt_watchers_closed(f) && wt_now_ns() < end)
        wt_sleep_us(10);
    return wt_watchers_closed(f);
}

/* Watchers registered on f; 0 once f completed (the stack is closed). Safe
 * (it walks the links) and exact only while no thread registers, prunes or
 * completes on f: a completer frees the links it fires. */
static inline size_t wt_watchers(weft_future *f)
{
    /* acquire: pairs with the release CAS of the pushes and put-backs. */
    uintptr_t h = atomic_load_explicit(&f->watchers, memory_order_acquire);
    size_t n = 0;
    if (h == 1) /* closed */
        return 0;
    for (const struct weft__listener *l = (const struct weft__listener *)h; l != NULL; l = l->next)
        n++;
    return n;
}

#endif /* WEFT_WATCHERS_H */
