/* A thread that is no worker runs a blocking call's work in a parked
 * worker's place (oneTBB's arena slots).
 *
 * Why. A parallel loop called from an outside thread used to queue a root
 * job, wake a parked worker and sleep until the loop was done. The loop
 * started only once the woken worker got a CPU: 0.10-0.24 ms on the
 * development VM, where the idle vCPU it lands on must first be woken by
 * the host, and the caller's CPU sat idle meanwhile. OpenMP's and oneTBB's
 * calling thread is one of their workers and starts at once.
 *
 * How. The caller claims a parked worker (weft__park_claim: its bit in the
 * parked mask is cleared, so no waker can wake it, and its thread sleeps
 * on) and becomes that worker for the call: weft__self names it, so the
 * loop spawns on its spawn stack and deque, thieves steal
 * from it, and the caller's waits help. At the end it gives the worker back
 * (weft__park_return), parked and claimable again.
 *
 * Ordering and invariants
 *   [BR1] A worker's private state (deque owner side, spawn stack,
 *         frame bases, statistics, credit in life) has one owner at a
 *         time. The parker's seq_cst bit set (a release) and the claimer's
 *         acq_rel CAS hand it to the borrower; weft__park_return's seq_cst
 *         bit set, the next claimer's CAS and notify's release exchange
 *         ([PK4] in park.c) hand it back to the worker's thread, which
 *         touches none of it between setting its bit and being notified.
 *   [BR2] The borrowed worker leaves nothing behind: the loop syncs all its
 *         children, and the worker's credit in life (submit.c) is
 *         subtracted from life before the worker is returned (its thread
 *         would flush it only after it next ran).
 *   [BR3] The call is counted in life (weft__pool_admit) from before the
 *         claim to after the return, so shutdown waits for it and the
 *         pool outlives every use the borrower makes of it.
 *
 * What the caller gets, and does not: its stack gets a leapfrogging limit
 * like a worker's (half of what lies below the call); it is registered with
 * liburcu for the call (stealing reads other deques' buffers in read-side
 * sections, and a growing push frees old buffers after a grace period), unless
 * the thread registered itself; the pool's worker hooks do not run on it,
 * and its CPU affinity is its own. A worker of another pool keeps its own
 * identity and does not borrow. */
#include <pthread.h>
#include <stdint.h>

#ifndef WEFT_RECLAIM_RETIRE
/* The inline read-side API, for the reader's own registered flag. */
#define _LGPL_SOURCE
#include <urcu/urcu-memb.h>
#endif

#include "borrow.h"
#include "park.h"
#include "spare.h"
#include "steal.h"
#include "submit.h"

/* The lowest address of this thread's stack: 0 before the first borrow,
 * 1 if it cannot be known (the thread then never leapfrogs). */
static _Thread_local uintptr_t stack_lo;

static uintptr_t stack_limit_below(uintptr_t anchor)
{
    if (stack_lo == 0) {
        pthread_attr_t a;
        void *addr;
        size_t size;
        stack_lo = 1;
        if (pthread_getattr_np(pthread_self(), &a) == 0) {
            if (pthread_attr_getstack(&a, &addr, &size) == 0)
                stack_lo = (uintptr_t)addr;
            pthread_attr_destroy(&a);
        }
    }
    if (stack_lo == 1 || anchor <= stack_lo)
        return UINTPTR_MAX;
    return stack_lo + (anchor - stack_lo) / 2;
}

static void rcu_enter(struct weft__borrow *b)
{
    b->rcu_registered = false;
#ifndef WEFT_RECLAIM_RETIRE
    if (b->w->pool->rcu && !URCU_TLS(urcu_memb_reader).registered) {
        urcu_memb_register_thread();
        b->rcu_registered = true;
    }
#endif
}

static void rcu_leave(struct weft__borrow *b)
{
#ifndef WEFT_RECLAIM_RETIRE
    if (b->rcu_registered)
        urcu_memb_unregister_thread();
#else
    (void)b;
#endif
}

int weft__borrow_begin(struct weft_pool *p, struct weft__borrow *b)
{
    b->w = NULL;
    if (weft__self != NULL)
        return WEFT_EAGAIN;
    struct weft__worker *w = weft__park_claim(p);
    if (w == NULL)
        return WEFT_EAGAIN;
    int rc = weft__pool_admit(p); /* [BR3] */
    if (rc != WEFT_OK) {
        weft__park_return(w);
        return rc;
    }
    b->w = w;
    rcu_enter(b);
    b->stack_limit = w->stack_limit;
    w->stack_limit = stack_limit_below((uintptr_t)__builtin_frame_address(0));
    /* relaxed: a placement hint (topology.c); the worker's thread resets
     * it when it next parks. */
    atomic_store_explicit(&w->busy_cpu, sched_getcpu(), memory_order_relaxed);
    weft__self = w;
    weft__frame_enter(w, &b->frame);
    return WEFT_OK;
}

void weft__borrow_end(struct weft__borrow *b)
{
    struct weft__worker *w = b->w;
    struct weft_pool *p = w->pool;
    weft__frame_leave(w, &b->frame);
    weft__self = NULL;
    /* relaxed: a placement hint, as in weft__borrow_begin. */
    atomic_store_explicit(&w->busy_cpu, -1, memory_order_relaxed);
    w->stack_limit = b->stack_limit;
    weft__spare_release(w); /* a spare its timed waits kept goes with it */
    weft__worker_flush(w); /* [BR2] */
    /* The slot sleeps again, but its thread made no last look: ask for it,
     * or a child spawned elsewhere would stay private while it sleeps. */
    weft__steal_ask_all(w);
    weft__park_return(w);  /* [BR1] */
    rcu_leave(b);
    weft__life_sub(p, 1); /* [BR3] last: the pool may go away after it */
}
