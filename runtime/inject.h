/* The injection queue: tasks queued by threads that are no worker of the
 * pool (and by workers handing a task to any worker), started in the order
 * they were queued. liburcu's wfcqueue with one dequeuer at a time.
 *
 * Synchronization: push is wait-free (an xchg, a full barrier) and needs no
 * exclusion; taking needs the queue's lock ([IQ1] in inject.c). liburcu is
 * not built with ThreadSanitizer, so under WEFT_TSAN push and pop tell TSan
 * about the happens-before edge the queue provides (release on push,
 * acquire on pop of the same task). */
#ifndef WEFT_INJECT_H
#define WEFT_INJECT_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <urcu/wfcqueue.h>

#include "compiler.h"
#include "task.h"

#ifdef WEFT_TSAN
#include <sanitizer/tsan_interface.h>
#endif

struct weft__inject {
    alignas(WEFT_CACHE_LINE) struct __cds_wfcq_head head; /* dequeuers */
    alignas(WEFT_CACHE_LINE) struct cds_wfcq_tail tail;   /* enqueuers */
    alignas(WEFT_CACHE_LINE) _Atomic uint32_t lock;        /* one dequeuer */
};

void weft__inject_init(struct weft__inject *q);

/* Any thread: queue t. Wait-free; a full barrier (the xchg). */
static inline void weft__inject_push(struct weft__inject *q, struct weft__task *t)
{
    /* wfcqueue requires an initialized node (next == NULL: "no successor
     * yet"). A task moved from one queue to another still carries its old
     * successor, which would splice stale nodes into the new queue. */
    cds_wfcq_node_init(&t->qnode);
#ifdef WEFT_TSAN
    __tsan_release(t);
#endif
    cds_wfcq_enqueue(&q->head, &q->tail, &t->qnode);
}

/* Any thread: a hint (two loads) whether tasks may be queued. */
static inline bool weft__inject_empty(struct weft__inject *q)
{
    return cds_wfcq_empty(&q->head, &q->tail);
}

/* Any thread: take the oldest task, or NULL if the queue is empty or its
 * lock stays held for a moment (~1 us: another thread is taking one).
 * Never blocks longer. */
struct weft__task *weft__inject_take(struct weft__inject *q);

/* As weft__inject_take, but up to max tasks, oldest first, into out.
 * Returns how many. */
unsigned weft__inject_take_many(struct weft__inject *q, struct weft__task **out, unsigned max);

/* Move every task for which keep(t) is false from q to out (in queue
 * order); the others stay in q, in their order. Takes q's lock, yielding
 * while another thread holds it (a take holds it for one pop). out must not
 * be shared. Returns the number moved. */
unsigned weft__inject_sift(struct weft__inject *q, bool (*keep)(const struct weft__task *t),
                           struct weft__inject *out);

/* Take the oldest task of a queue no other thread uses (as sift's out). */
struct weft__task *weft__inject_pop_private(struct weft__inject *q);

#endif
