/* The injection queue (inject.h).
 *
 * Ordering and invariants
 *   [IQ1] lock: acquire exchange / release store: one thread at a time
 *         dequeues (wfcqueue requires dequeuers to exclude each other;
 *         enqueuers never take it). The release store also hands the queue's
 *         head to the next dequeuer. */
#include <sched.h>

#include "inject.h"

/* Looks at a held lock before a take gives up (~1 us). The holder pops at
 * most a small batch and lets go, so waiting a little beats reporting no
 * work and going idle while the queue holds some. */
#define LOCK_TRIES 32

void weft__inject_init(struct weft__inject *q)
{
    __cds_wfcq_init(&q->head, &q->tail);
    /* relaxed: not shared yet. */
    atomic_store_explicit(&q->lock, 0, memory_order_relaxed);
}

/* Caller holds the dequeue exclusion (the lock, or owns the queue). */
static struct weft__task *task_of(struct cds_wfcq_node *node)
{
    if (node == NULL || node == CDS_WFCQ_WOULDBLOCK)
        return NULL;
    struct weft__task *t = weft_container_of(node, struct weft__task, qnode);
#ifdef WEFT_TSAN
    __tsan_acquire(t);
#endif
    return t;
}

/* Blocking pop: a node whose enqueuer was preempted between its exchange
 * and linking the node is waited for (liburcu spins, then sleeps 10 ms at
 * a time). Only for queues no other thread enqueues on, or where waiting
 * is acceptable (shutdown's sift). */
static struct weft__task *pop(struct weft__inject *q)
{
    return task_of(__cds_wfcq_dequeue_blocking(&q->head, &q->tail));
}

static bool try_lock(struct weft__inject *q)
{
    /* relaxed: a look before the exchange, so that threads polling a busy
     * lock do not take its line away from the holder. [IQ1] acquire: the
     * exchange that wins the lock. */
    return !atomic_load_explicit(&q->lock, memory_order_relaxed) &&
           !atomic_exchange_explicit(&q->lock, 1, memory_order_acquire);
}

static void unlock(struct weft__inject *q)
{
    /* [IQ1] release: ends our exclusive dequeue. */
    atomic_store_explicit(&q->lock, 0, memory_order_release);
}

unsigned weft__inject_take_many(struct weft__inject *q, struct weft__task **out, unsigned max)
{
    if (max == 0 || weft__inject_empty(q))
        return 0;
    for (unsigned i = 0; !try_lock(q); i++) {
        if (i == LOCK_TRIES)
            return 0;
        weft__cpu_relax();
    }
    unsigned n = 0;
    /* Nonblocking: if the oldest node's enqueuer is between its exchange
     * and linking it (preempted, for as long as the kernel keeps it off a
     * CPU), report no task rather than hold the lock while liburcu sleeps
     * 10 ms at a time. The queue reads non-empty meanwhile, so idle workers
     * keep looking (searching, with yields) instead of parking. */
    while (n < max &&
           (out[n] = task_of(__cds_wfcq_dequeue_nonblocking(&q->head, &q->tail))) != NULL)
        n++;
    unlock(q);
    return n;
}

struct weft__task *weft__inject_take(struct weft__inject *q)
{
    struct weft__task *t;
    return weft__inject_take_many(q, &t, 1) == 1 ? t : NULL;
}

unsigned weft__inject_sift(struct weft__inject *q, bool (*keep)(const struct weft__task *t),
                           struct weft__inject *out)
{
    struct weft__inject kept;
    weft__inject_init(&kept);
    /* The holder pops at most a batch and lets go: yielding until then is
     * short. */
    while (!try_lock(q))
        sched_yield();
    unsigned moved = 0;
    struct weft__task *t;
    while ((t = pop(q)) != NULL) {
        if (keep(t)) {
            weft__inject_push(&kept, t);
        } else {
            weft__inject_push(out, t);
            moved++;
        }
    }
    __cds_wfcq_splice_blocking(&q->head, &q->tail, &kept.head, &kept.tail);
    unlock(q);
    return moved;
}

struct weft__task *weft__inject_pop_private(struct weft__inject *q)
{
    return pop(q);
}
