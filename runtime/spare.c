/* Spare workers: compensation for workers blocked in waits (spare.h).
 *
 * pool->blocked counts the workers (and borrowers) blocked in waits that
 * called weft__spare_begin; spare k (slot n + k) runs while the count is
 * above k. Ranks, not identities: which worker blocked does not matter,
 * only how many did, so the count alone decides and no spare is ever
 * handed to a particular waiter.
 *
 * Ordering and invariants
 *   [SP1] Spare k parks with: gate = SLEEPING (seq_cst), fence, load
 *         blocked; it sleeps on its gate only if the count is at most k.
 *         The worker that raises the count past k does: blocked += 1
 *         (seq_cst), fence, exchange spare k's gate with AWAKE, and wakes
 *         it if it was SLEEPING. A store-buffering pair: either the spare
 *         sees the new count, or the worker sees SLEEPING and wakes it (a
 *         spare between its check and its futex wait finds the gate
 *         changed: EAGAIN). Each raise of the count wakes the one spare it
 *         concerns. Exit sets WEFT__SPARES_EXIT in the count, then opens
 *         every gate.
 *   [SP2] live: a slot's queues are initialized before the release CAS
 *         that raises live past it; readers (stealing, the parking
 *         protocol's final check) acquire live before reading the slot.
 *   [SP3] spare_started: SLOT_STARTING is won by one CAS (acq_rel), so
 *         one thread initializes and starts a slot; the starter's release
 *         store of SLOT_RUNNING or SLOT_IDLE hands the slot's state to the
 *         next starter's acquire and to weft__spare_join_all.
 *   Spares start only while a task waits (the pool is not drained), and
 *   the pool is destroyed only after it drained, so no start races
 *   weft__spare_join_all. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "futex.h"
#include "spare.h"

#define WEFT__SPARES_EXIT 0x80000000u
#define SPARE_AWAKE 0u
#define SPARE_SLEEPING 1u
#define BLOCKED_COUNT(b) ((b) & ~WEFT__SPARES_EXIT)

/* Slot states (spare_started). */
#define SLOT_NEW 0u      /* queues not allocated, no thread */
#define SLOT_STARTING 1u /* a starter owns the slot */
#define SLOT_RUNNING 2u  /* its thread runs */
#define SLOT_IDLE 3u     /* queues allocated, the thread could not start */

unsigned weft__spare_slots(unsigned n)
{
    (void)n;
    return WEFT_SPARES_MAX;
}

/* Raise p->live to at least `to` [SP2]. */
static void live_raise(struct weft_pool *p, unsigned to)
{
    /* relaxed: the CAS below decides. */
    unsigned cur = atomic_load_explicit(&p->live, memory_order_relaxed);
    while (cur < to && !atomic_compare_exchange_weak_explicit(&p->live, &cur, to,
                                                              memory_order_release,
                                                              memory_order_relaxed)) {
    }
}

/* Initialize and start spare slot w. Returns true if its thread runs. */
static bool slot_start(struct weft_pool *p, struct weft__worker *w)
{
    /* acquire [SP3]: a slot already running needs nothing. */
    uint32_t s = atomic_load_explicit(&w->spare_started, memory_order_acquire);
    if (s == SLOT_RUNNING || s == SLOT_STARTING)
        return s == SLOT_RUNNING;
    /* [SP3] acq_rel: one starter owns the slot. */
    if (!atomic_compare_exchange_strong_explicit(&w->spare_started, &s, SLOT_STARTING,
                                                 memory_order_acq_rel, memory_order_acquire))
        return s == SLOT_RUNNING;
    if (s == SLOT_NEW) {
        if (weft__worker_queues_init(w) != 0) {
            /* release [SP3]: nothing was allocated; a later need retries. */
            atomic_store_explicit(&w->spare_started, SLOT_NEW, memory_order_release);
            return false;
        }
        live_raise(p, w->index + 1);
    }
    bool ok = weft__worker_thread_start(w) == 0;
    /* release [SP3]: pairs with the next starter's and the joiner's acquire. */
    atomic_store_explicit(&w->spare_started, ok ? SLOT_RUNNING : SLOT_IDLE,
                          memory_order_release);
    return ok;
}

/* Let spare w run: set its gate and wake it if it sleeps [SP1]. */
static void gate_open(struct weft__worker *w)
{
    /* [SP1] seq_cst: after the count's update, pairs with the spare's
     * store of SPARE_SLEEPING. */
    if (atomic_exchange_explicit(&w->gate, SPARE_AWAKE, memory_order_seq_cst) == SPARE_SLEEPING)
        weft__futex_wake(&w->gate, 1);
}

/* Start (if needed) and wake the spare of rank `rank`. */
static bool spare_run(struct weft_pool *p, unsigned rank)
{
    if (rank >= p->nslots - p->n)
        return false;
    struct weft__worker *s = &p->workers[p->n + rank];
    if (!slot_start(p, s)) {
        /* relaxed: a hint for weft__spare_end's repair walk. */
        atomic_store_explicit(&p->spare_gaps, 1, memory_order_relaxed);
        return false;
    }
    /* [SP1] the count before the gate (TSan: a seq_cst RMW). */
    weft__fence_seq_cst(p);
    gate_open(s);
    return true;
}

bool weft__spare_hold(struct weft__worker *w)
{
    struct weft_pool *p = w->pool;
    if (!w->spare_held) {
        /* [SP1] seq_cst: the count before the spare's gate. The count
         * stays raised even if the spare cannot start: spares of higher
         * ranks that others started must keep running. */
        uint32_t prev = atomic_fetch_add_explicit(&p->blocked, 1, memory_order_seq_cst);
        w->spare_held = true;
        w->spare_want = BLOCKED_COUNT(prev);
        w->spare_ok = false;
    }
    /* A spare that could not start (all WEFT_SPARES_MAX in use, or no
     * memory or thread) is tried again at the holder's next block. */
    if (!w->spare_ok)
        w->spare_ok = spare_run(p, w->spare_want);
    return w->spare_ok;
}

void weft__spare_end(struct weft__worker *w)
{
    struct weft_pool *p = w->pool;
    /* relaxed: a count; a surplus spare notices it at its next task. */
    atomic_fetch_sub_explicit(&w->pool->blocked, 1, memory_order_relaxed);
    /* After a failed start, the ranks still counted may include one
     * without a thread while its holder, with a higher rank, thinks its
     * spare runs: start the missing ones now (rare: only after a thread
     * or its memory could not be had). relaxed: hints; spare_run decides. */
    if (weft_unlikely(atomic_load_explicit(&p->spare_gaps, memory_order_relaxed))) {
        uint32_t c = BLOCKED_COUNT(atomic_load_explicit(&p->blocked, memory_order_relaxed));
        for (unsigned k = 0; k < c && k < p->nslots - p->n; k++)
            (void)spare_run(p, k);
    }
}

bool weft__spare_surplus(const struct weft__worker *w)
{
    if (weft_likely(w->spare_rank == WEFT__NOT_SPARE))
        return false;
    /* relaxed: a count read as a hint; parking re-checks it [SP1]. */
    uint32_t b = atomic_load_explicit(&w->pool->blocked, memory_order_relaxed);
    return (b & WEFT__SPARES_EXIT) || w->spare_rank >= BLOCKED_COUNT(b);
}

bool weft__spare_park(struct weft__worker *w)
{
    struct weft_pool *p = w->pool;
    for (;;) {
        /* [SP1] seq_cst: asleep before the load of blocked. */
        atomic_store_explicit(&w->gate, SPARE_SLEEPING, memory_order_seq_cst);
        weft__fence_seq_cst(p);
        /* relaxed: ordered by the fence. */
        uint32_t b = atomic_load_explicit(&p->blocked, memory_order_relaxed);
        if ((b & WEFT__SPARES_EXIT) || w->spare_rank < BLOCKED_COUNT(b)) {
            /* relaxed: the owner's own word; a waker may set it too. */
            atomic_store_explicit(&w->gate, SPARE_AWAKE, memory_order_relaxed);
            return !(b & WEFT__SPARES_EXIT);
        }
        /* acquire: pairs with gate_open's exchange. */
        while (atomic_load_explicit(&w->gate, memory_order_acquire) == SPARE_SLEEPING)
            weft__futex_wait(&w->gate, SPARE_SLEEPING, NULL);
    }
}

void weft__spare_exit_all(struct weft_pool *p)
{
    /* seq_cst [SP1]: the exit bit before the gates. */
    atomic_fetch_or_explicit(&p->blocked, WEFT__SPARES_EXIT, memory_order_seq_cst);
    weft__fence_seq_cst(p);
    /* acquire [SP2]: the slots below live are initialized. */
    unsigned live = atomic_load_explicit(&p->live, memory_order_acquire);
    for (unsigned i = p->n; i < live; i++)
        gate_open(&p->workers[i]);
}

void weft__spare_join_all(struct weft_pool *p)
{
    /* Every spare thread first, then the queues: a spare still running may
     * sweep another spare's slot (its deque, its steal request). */
    for (unsigned i = p->n; i < p->nslots; i++) {
        struct weft__worker *w = &p->workers[i];
        /* acquire [SP3]: the starter's final store. */
        if (atomic_load_explicit(&w->spare_started, memory_order_acquire) == SLOT_RUNNING)
            pthread_join(w->thread, NULL);
    }
    for (unsigned i = p->n; i < p->nslots; i++) {
        struct weft__worker *w = &p->workers[i];
        /* acquire [SP3]: as above (no thread of the pool runs now). */
        if (atomic_load_explicit(&w->spare_started, memory_order_acquire) != SLOT_NEW)
            weft__worker_queues_fini(w);
    }
}
