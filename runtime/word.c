/* The completion word (word.h).
 *
 * Ordering and invariants
 *   [WD1] complete: acq_rel exchange of the final value -> waiters: acquire
 *         load that sees a done phase. Publishes the outcome written before it.
 *   [WD2] A sleeper sets WAITERS with a CAS before sleeping; complete's
 *         exchange returns it and then wakes. Both act on one location, so
 *         either the CAS precedes the exchange (the completer sees WAITERS
 *         and wakes) or it fails (the sleeper reloads and sees the done
 *         phase). A sleeper that times out leaves WAITERS set: clearing it
 *         is unsafe with more sleepers and costs at most one extra wake.
 *   Lifetime: the completer touches the word only until its wake returns;
 *   owners keep the memory alive at least that long (futures hold the
 *   runtime's reference until after completion). */
#include <errno.h>
#include <limits.h>
#include <sched.h>

#include "compiler.h"
#include "futex.h"
#include "word.h"

/* A thread that is no worker polls before it sleeps: 16 pauses (~0.6 us; a
 * pause measured 40 ns on the development VM), then sched_yield (which lets
 * a worker that the kernel placed on the waiter's CPU run at once) until
 * 50 us have passed. A result that arrives in that window costs the
 * completer no wake syscall and the waiter no wake-up latency (a futex
 * round trip is ~10 us on the development VM); after it, the waiter sleeps
 * on the futex. */
#define THREAD_PAUSES 16
#define THREAD_POLL_NS 50000

uint32_t weft__word_complete(_Atomic uint32_t *word, uint32_t final)
{
    /* [WD1] acq_rel: release publishes the outcome; acquire orders the wake
     * after we learned about WAITERS [WD2]. */
    uint32_t old = atomic_exchange_explicit(word, final, memory_order_acq_rel);
    if (old & WEFT_WORD_WAITERS)
        weft__futex_wake(word, INT_MAX);
    return old;
}

bool weft__word_sleep(_Atomic uint32_t *word, const struct timespec *deadline)
{
    uint32_t s = weft__word_load(word);
    if (weft__word_done(s))
        return true;
    if (!(s & WEFT_WORD_WAITERS)) {
        /* [WD2] relaxed: the kernel re-checks the value atomically; a failed
         * CAS just means the word changed and we re-check. */
        if (!atomic_compare_exchange_strong_explicit(word, &s, s | WEFT_WORD_WAITERS,
                                                     memory_order_relaxed,
                                                     memory_order_relaxed))
            return true;
        s |= WEFT_WORD_WAITERS;
    }
    return weft__futex_wait(word, s, deadline) != -ETIMEDOUT;
}

bool weft__word_poll(_Atomic uint32_t *word, int64_t poll_ns)
{
    int64_t until = weft__now_ns() + poll_ns;
    for (unsigned i = 0;; i++) {
        if (weft__word_done(weft__word_load(word)))
            return true;
        if (i < THREAD_PAUSES)
            weft__cpu_relax();
        else if (weft__now_ns() < until)
            sched_yield();
        else
            return false;
    }
}

bool weft__word_wait_thread(_Atomic uint32_t *word, const struct timespec *deadline)
{
    if (weft__word_poll(word, THREAD_POLL_NS))
        return true;
    for (;;) {
        if (weft__word_done(weft__word_load(word)))
            return true;
        if (!weft__word_sleep(word, deadline))
            return weft__word_done(weft__word_load(word));
    }
}
