/* Stealing: taking the oldest task of another worker's deque. */
#ifndef WEFT_STEAL_H
#define WEFT_STEAL_H

#include "worker.h"

/* Steal one task from any other worker of w's pool, nearest first (the
 * victim lists of topology.h), then from the spare slots. With ask, a
 * victim found empty is asked to publish its private children (steal_req).
 * Returns the task, or NULL. w's thread only. */
struct weft__task *weft__steal_any(struct weft__worker *w, bool ask);

/* Ask every other worker of w's pool to publish its private children, as a
 * worker's last look before it parks does: w's slot is going back to sleep
 * (borrow.c), and the next spawn anywhere must publish and wake it. */
void weft__steal_ask_all(struct weft__worker *w);

/* Steal one dependent task from v (an independent oldest entry is left
 * where it is): helping waits leapfrogging onto v. NULL if none. */
struct weft__task *weft__steal_dependent(struct weft__worker *w, struct weft__worker *v);

/* steal_req and bound are plain fields in weft.h's layout; every access
 * is a relaxed __atomic builtin: hints (lazy.c, [LZ1]); nothing is
 * published through them, the deque push does that. */
static inline bool weft__steal_requested(const struct weft__lazy *l)
{
    return __atomic_load_n(&l->steal_req, __ATOMIC_RELAXED) != 0;
}

static inline void weft__steal_req_set(struct weft__worker *w, uint32_t v)
{
    __atomic_store_n(&w->ctx.lazy.steal_req, v, __ATOMIC_RELAXED);
}

#endif
