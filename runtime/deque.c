/* Chase-Lev deque with the C11 orderings of Lê et al. 2013.
 *
 * Ordering and invariants
 *   [DQ1] push: release store of bottom -> steal: acquire load of bottom.
 *         Publishes slot b and the task record it points to.
 *   [DQ2] grow: release store of buf -> steal: acquire load of buf.
 *         Publishes the copied slots of the new buffer.
 *   [DQ3] take: store bottom; seq_cst fence; load top  <->
 *         steal: load top; seq_cst fence; load bottom.
 *         A store-buffering pair: without both fences the owner and a thief
 *         can each miss the other's index update and take the same last task.
 *   [DQ4] CAS on top (seq_cst) by take (one task left) and steal: the single
 *         point where the owner and thieves decide who gets index t.
 *   [DQ5] push: acquire load of top <- steal: CAS on top. The owner only
 *         reuses slot t after the thief that won t has read it.
 *   Invariants: top only grows, and only by CAS; bottom is written by the
 *   owner only; top <= bottom + 1; buffers only grow; slots are atomics
 *   because a stalled thief may read a slot the owner is overwriting after
 *   wrap-around (the thief's CAS then fails and the value is discarded). */
#include "deque.h"

#include <errno.h>
#include <stdlib.h>

#ifndef WEFT_RECLAIM_RETIRE
#include <urcu/urcu-memb.h>
#endif

#include "alloc.h"

struct weft__deque_buf {
    int64_t mask;                      /* capacity - 1 */
    struct weft__deque_buf *next;      /* retire list link */
    _Atomic uintptr_t slots[]; /* task pointer | WEFT_DQ_INDEPENDENT */
};

static struct weft__deque_buf *buf_new(int64_t cap)
{
    struct weft__deque_buf *b = weft__malloc(sizeof(*b) + (size_t)cap * sizeof(b->slots[0]));
    if (b == NULL)
        return NULL;
    b->mask = cap - 1;
    b->next = NULL;
    return b;
}

/* A slot holds a task pointer with its flags in the low bit. */
static inline uintptr_t slot_get(struct weft__deque_buf *b, int64_t i)
{
    /* relaxed: the slot's visibility comes from [DQ1]/[DQ2]; the value is only
     * trusted after the CAS [DQ4] (steal) or by the owner who wrote it. */
    return atomic_load_explicit(&b->slots[i & b->mask], memory_order_relaxed);
}

static inline void slot_put(struct weft__deque_buf *b, int64_t i, uintptr_t v)
{
    /* relaxed: published by the release store of bottom [DQ1]. */
    atomic_store_explicit(&b->slots[i & b->mask], v, memory_order_relaxed);
}

static inline struct weft__task *slot_task(uintptr_t v)
{
    return (struct weft__task *)(v & ~(uintptr_t)WEFT_DQ_INDEPENDENT);
}

int weft__deque_init(struct weft__deque *dq, size_t cap, bool rcu)
{
    int64_t c = 2;
    while ((size_t)c < cap)
        c <<= 1;
    struct weft__deque_buf *b = buf_new(c);
    if (b == NULL)
        return -ENOMEM;
    /* relaxed: the deque is not shared yet; thread creation publishes it. */
    atomic_store_explicit(&dq->top, 0, memory_order_relaxed);
    atomic_store_explicit(&dq->bottom, 0, memory_order_relaxed);
    atomic_store_explicit(&dq->buf, b, memory_order_relaxed);
    dq->retired = NULL;
#ifdef WEFT_RECLAIM_RETIRE
    (void)rcu;
    dq->rcu = false;
#else
    dq->rcu = rcu;
#endif
    return 0;
}

static void free_retired(struct weft__deque *dq)
{
    while (dq->retired) {
        struct weft__deque_buf *n = dq->retired->next;
        free(dq->retired);
        dq->retired = n;
    }
}

/* Retire an old buffer: a thief that loaded it before the swap may still read
 * it. With rcu, the growing owner frees the retired buffers after a grace
 * period: every read-side section that could have loaded them has ended
 * (the swap's store [DQ2] comes before the grace period starts). liburcu's
 * call_rcu is not used: it aborts the process when it cannot allocate. An
 * owner inside a read-side section of its own (its caller's, not weft's)
 * would wait for itself: its buffers stay retired until a later grow or
 * fini. Without rcu the retire list keeps them until fini (at most the size
 * of the live buffer). */
static void buf_retire(struct weft__deque *dq, struct weft__deque_buf *old)
{
    old->next = dq->retired;
    dq->retired = old;
#ifndef WEFT_RECLAIM_RETIRE
    if (dq->rcu && !urcu_memb_read_ongoing()) {
        urcu_memb_synchronize_rcu();
        free_retired(dq);
    }
#endif
}

void weft__deque_fini(struct weft__deque *dq)
{
    /* relaxed: no other thread uses the deque any more (workers joined). */
    free(atomic_exchange_explicit(&dq->buf, NULL, memory_order_relaxed));
    free_retired(dq);
}

static struct weft__deque_buf *grow(struct weft__deque *dq, struct weft__deque_buf *old,
                                    int64_t t, int64_t b)
{
    struct weft__deque_buf *nb = buf_new(2 * (old->mask + 1));
    if (nb == NULL)
        return NULL;
    /* Copy [t, b): indices below the current top may be copied needlessly,
     * which is harmless because no one can win them any more. */
    for (int64_t i = t; i < b; i++)
        slot_put(nb, i, slot_get(old, i));
    /* [DQ2] release: the copied slots are visible to a thief that acquires
     * the new pointer. */
    atomic_store_explicit(&dq->buf, nb, memory_order_release);
    buf_retire(dq, old);
    return nb;
}

int weft__deque_push(struct weft__deque *dq, struct weft__task *t, unsigned flags)
{
    /* relaxed: only the owner writes bottom and buf. */
    int64_t b = atomic_load_explicit(&dq->bottom, memory_order_relaxed);
    /* [DQ5] acquire: pairs with the thieves' CAS on top, so slots below top
     * are free to overwrite. */
    int64_t top = atomic_load_explicit(&dq->top, memory_order_acquire);
    struct weft__deque_buf *a = atomic_load_explicit(&dq->buf, memory_order_relaxed);
    if (weft_unlikely(b - top > a->mask)) {
        /* Grow, then use the new buffer (forgetting this reload is the bug
         * the CDSChecker "bugfix" deque documents). */
        a = grow(dq, a, top, b);
        if (a == NULL)
            return -ENOMEM;
    }
    slot_put(a, b, (uintptr_t)t | (flags & WEFT_DQ_INDEPENDENT));
    /* [DQ1] release: publishes slot b and the task it points to. This
     * replaces the paper's release fence + relaxed store; TSan sees it. */
    atomic_store_explicit(&dq->bottom, b + 1, memory_order_release);
    return 0;
}

struct weft__task *weft__deque_take(struct weft__deque *dq, unsigned *flags)
{
    /* relaxed: owner-only fields. */
    int64_t b = atomic_load_explicit(&dq->bottom, memory_order_relaxed) - 1;
    struct weft__deque_buf *a = atomic_load_explicit(&dq->buf, memory_order_relaxed);
    /* [DQ3] seq_cst exchange: the store of bottom must be ordered before the
     * load of top (store-load), pairing with the fence in steal. The design
     * notes' relaxed store + seq_cst fence is equivalent; the exchange (a
     * locked xchg on x86) measured faster than mfence here and TSan models
     * it. The old value is bottom itself (only the owner writes it). */
    (void)atomic_exchange_explicit(&dq->bottom, b, memory_order_seq_cst);
    /* [DQ3] seq_cst: with the seq_cst exchange above this load cannot move
     * before the bottom store (C11 gives that to SC accesses only; on x86 it
     * is a plain load). */
    int64_t t = atomic_load_explicit(&dq->top, memory_order_seq_cst);
    if (t > b) {
        /* Empty: restore bottom (relaxed, owner-only). */
        atomic_store_explicit(&dq->bottom, b + 1, memory_order_relaxed);
        return NULL;
    }
    uintptr_t v = slot_get(a, b);
    struct weft__task *x = slot_task(v);
    if (flags != NULL)
        *flags = (unsigned)(v & WEFT_DQ_INDEPENDENT);
    if (t < b)
        return x; /* more than one task left: no thief can reach index b */
    /* [DQ4] one task left: race the thieves for index t with a CAS. seq_cst
     * on success, as in the paper; relaxed on failure (we just give up). */
    if (!atomic_compare_exchange_strong_explicit(&dq->top, &t, t + 1, memory_order_seq_cst,
                                                 memory_order_relaxed))
        x = NULL;
    /* relaxed: owner-only; the deque is now empty either way. */
    atomic_store_explicit(&dq->bottom, b + 1, memory_order_relaxed);
    return x;
}

int weft__deque_peek_flags(struct weft__deque *dq)
{
    /* relaxed: owner-only fields; a thief that takes the task meanwhile
     * makes the owner's next take return another task or NULL. */
    int64_t b = atomic_load_explicit(&dq->bottom, memory_order_relaxed);
    int64_t t = atomic_load_explicit(&dq->top, memory_order_relaxed);
    if (t >= b)
        return -1;
    struct weft__deque_buf *a = atomic_load_explicit(&dq->buf, memory_order_relaxed);
    return (int)(slot_get(a, b - 1) & WEFT_DQ_INDEPENDENT);
}

int weft__deque_steal(struct weft__deque *dq, struct weft__task **out, bool dependent_only)
{
#ifdef WEFT_TSAN
    /* [DQ3] TSan build: a seq_cst RMW that leaves top unchanged replaces the
     * acquire load + fence (TSan does not model fences). */
    int64_t t = atomic_fetch_add_explicit(&dq->top, 0, memory_order_seq_cst);
#else
    /* acquire: pairs with other thieves' CAS so the slot we read is current. */
    int64_t t = atomic_load_explicit(&dq->top, memory_order_acquire);
    /* [DQ3] seq_cst fence: orders the top load before the bottom load,
     * pairing with the owner's fence in take. */
    atomic_thread_fence(memory_order_seq_cst);
#endif
    /* [DQ1] acquire: pairs with push's release store of bottom. */
    int64_t b = atomic_load_explicit(&dq->bottom, memory_order_acquire);
    if (t >= b)
        return WEFT_STEAL_EMPTY;
    /* [DQ2] acquire: pairs with grow's release store (the paper's consume). */
    struct weft__deque_buf *a = atomic_load_explicit(&dq->buf, memory_order_acquire);
    /* Read the slot before the CAS: after a successful CAS the owner may
     * overwrite it (ssbl/concurrent-deque#2). */
    uintptr_t v = slot_get(a, t);
    /* The flag is read before any claim: an independent task is left for
     * the worker loops (a stale read only makes the answer a hint). */
    if (dependent_only && (v & WEFT_DQ_INDEPENDENT))
        return WEFT_STEAL_SKIP;
    /* [DQ4] seq_cst: decides ownership of index t against take and other
     * thieves; relaxed on failure because the value is discarded. */
    if (!atomic_compare_exchange_strong_explicit(&dq->top, &t, t + 1, memory_order_seq_cst,
                                                 memory_order_relaxed))
        return WEFT_STEAL_ABORT;
    *out = slot_task(v);
    return WEFT_STEAL_OK;
}

bool weft__deque_nonempty(struct weft__deque *dq)
{
    /* acquire: callers run a seq_cst fence first (parking protocol) and only
     * use the answer as a hint; acquire keeps a later steal consistent. */
    int64_t t = atomic_load_explicit(&dq->top, memory_order_acquire);
    int64_t b = atomic_load_explicit(&dq->bottom, memory_order_acquire);
    return t < b;
}


