/* The injection queue for external submissions: liburcu's wfcqueue.
 *
 * Synchronization: push is wait-free (an xchg, a full barrier) and needs no
 * exclusion; pop needs inj_lock ([WK1] in worker.c: one dequeuer at a time).
 * liburcu is not built with ThreadSanitizer, so under WEFT_TSAN push and pop
 * tell TSan about the happens-before edge the queue provides (release on
 * push, acquire on pop of the same task). */
#ifndef WEFT_INJECT_H
#define WEFT_INJECT_H

#include "pool.h"

#ifdef WEFT_TSAN
#include <sanitizer/tsan_interface.h>
#endif

static inline void weft__inject_push(struct __cds_wfcq_head *head, struct cds_wfcq_tail *tail,
                                     struct weft__task *t)
{
    /* wfcqueue requires an initialized node (next == NULL: "no successor
     * yet"). A task moved from one queue to another still carries its old
     * successor, which would splice stale nodes into the new queue. */
    cds_wfcq_node_init(&t->qnode);
#ifdef WEFT_TSAN
    __tsan_release(t);
#endif
    cds_wfcq_enqueue(head, tail, &t->qnode);
}

/* Caller holds the queue's dequeue exclusion (inj_lock, or owns the queue). */
static inline struct weft__task *weft__inject_pop(struct __cds_wfcq_head *head,
                                                  struct cds_wfcq_tail *tail)
{
    struct cds_wfcq_node *node = __cds_wfcq_dequeue_blocking(head, tail);
    if (node == NULL)
        return NULL;
    struct weft__task *t = weft_container_of(node, struct weft__task, qnode);
#ifdef WEFT_TSAN
    __tsan_acquire(t);
#endif
    return t;
}

#endif
