/* Chase-Lev work-stealing deque (Lê, Pop, Cohen, Zappa Nardelli, PPoPP 2013).
 *
 * Synchronization table (X = may run concurrently, - = must not):
 *
 *                 push  take  steal  nonempty
 *   push (owner)    -     -     X       X
 *   take (owner)    -     -     X       X
 *   steal (any)     X     X     X       X
 *
 * push and take belong to the owning worker only. steal may be called by any
 * thread registered with liburcu-memb, inside a read-side critical section
 * (the buffer a thief reads may be retired concurrently by a growing push,
 * which frees it after a grace period).
 * In the retire-list build (WEFT_RECLAIM_RETIRE, used for TSan) no read-side
 * section is needed: old buffers live until weft__deque_fini(). The rcu
 * build does the same for a deque created with rcu false (pools created in
 * a forked child, fork.h). */
#ifndef WEFT_DEQUE_H
#define WEFT_DEQUE_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "compiler.h"
#include "task.h"

struct weft__deque_buf;

struct weft__deque {
    /* Written by thieves (CAS) and by the owner's last-element CAS. */
    alignas(WEFT_CACHE_LINE) _Atomic int64_t top;
    /* Written by the owner only. */
    alignas(WEFT_CACHE_LINE) _Atomic int64_t bottom;
    _Atomic(struct weft__deque_buf *) buf;
    struct weft__deque_buf *retired; /* old buffers not yet freed, owner only */
    bool rcu; /* old buffers freed after a grace period (rcu build only; see above) */
    alignas(WEFT_CACHE_LINE) char end_pad[1];
};

enum weft__steal_result {
    WEFT_STEAL_OK = 0,
    WEFT_STEAL_EMPTY = 1,
    WEFT_STEAL_ABORT = 2,
    WEFT_STEAL_SKIP = 3 /* the oldest task is independent and was left there */
};

/* Entries carry one flag beside the task pointer (its low bit, as task
 * records are pointer-aligned): an independent task is one that no wait
 * depends on implicitly (a submitted future; task.h). Helping waits take
 * only dependent tasks from a deque. */
#define WEFT_DQ_INDEPENDENT 1u

/* cap is rounded up to a power of two (at least 2). rcu: a growing push
 * frees the old buffers after a grace period (urcu_memb_synchronize_rcu), so
 * thieves must steal inside read-side sections, and an owner that pushes
 * inside one leaves its old buffers for a later grow or fini; false keeps
 * them until fini (always so in the retire-list build). Returns 0 or
 * -ENOMEM. */
int weft__deque_init(struct weft__deque *dq, size_t cap, bool rcu);
/* Free the buffers. No thread may use the deque any more. A second fini,
 * or one of a zeroed deque, does nothing. */
void weft__deque_fini(struct weft__deque *dq);

/* Owner: push t at the bottom with flags (0 or WEFT_DQ_INDEPENDENT).
 * Returns 0, or -ENOMEM if growing failed (t was not pushed). Wait-free
 * except for growth (which, with rcu, waits for a grace period). */
int weft__deque_push(struct weft__deque *dq, struct weft__task *t, unsigned flags);
/* Owner: take the newest task, or NULL if empty; *flags (may be NULL)
 * receives its flags. */
struct weft__task *weft__deque_take(struct weft__deque *dq, unsigned *flags);
/* Owner: the flags of the newest task, or -1 if the deque is empty. A
 * thief may take that task right after; the owner's take decides. */
int weft__deque_peek_flags(struct weft__deque *dq);
/* Any registered thread: steal the oldest task. On WEFT_STEAL_OK *out is
 * set; EMPTY means nothing was there, ABORT means a race was lost (retry).
 * With dependent_only, an independent oldest task is left in place and the
 * answer is WEFT_STEAL_SKIP (helping waits, wait.c). */
int weft__deque_steal(struct weft__deque *dq, struct weft__task **out, bool dependent_only);
/* Any thread: a hint (two loads) whether tasks may be present. Used by the
 * parking protocol's final check after a seq_cst fence. */
bool weft__deque_nonempty(struct weft__deque *dq);
/* Owner: the current bottom index (tasks above an earlier value were pushed
 * since then; used by help-while-waiting and by every frame mark, so
 * inline). relaxed: only the owner calls this and only the owner writes
 * bottom. */
static inline int64_t weft__deque_bottom(struct weft__deque *dq)
{
    return atomic_load_explicit(&dq->bottom, memory_order_relaxed);
}

#endif
