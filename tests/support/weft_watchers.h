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

/* True once f is done and holds no watcher links: its completer closed
 * the stack (listeners.c: it then fires the links; callbacks run after), or
 * nobody ever announced one, so the completer left it empty (future.c
 * [FU2]). acquire (both): pair with the acq_rel exchanges that close the
 * stack and complete the word. */
static inline bool wt_watchers_closed(weft_future *f)
{
    uintptr_t h = atomic_load_explicit(&f->watchers, memory_order_acquire);
    if (h == 1)
        return true;
    uint32_t s = atomic_load_explicit(&f->state, memory_order_acquire);
    return h == 0 && weft__word_done(s) && !(s & WEFT_ST_LISTENED);
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
