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
 *   [BR4] A waiter on a future holds the future, not the pool, which its
 *         owner may destroy once the last task is done. Before touching the
 *         pool, weft__borrow_begin_if pins it: an acq_rel increment of the
 *         pool's pin counter (pins[], shared by the pools hashed to it),
 *         then the caller's needed() test (an acquire load of a future's
 *         state: still unstarted, so its count is in life and the pool is
 *         not drained), and an acq_rel decrement once the claim and the
 *         admission are done (then [BR3] holds the pool). weft_pool_destroy
 *         reads the counter with an acq_rel RMW after the drain and frees
 *         only once it reads 0. The counter's RMWs are totally ordered: if
 *         the pin comes first, destroy reads it and waits for the unpin,
 *         after every access the borrower made; if destroy's read comes
 *         first, the pin reads from it (a release sequence of RMWs), so
 *         destroy's view, in which every task of the pool finished, happens
 *         before needed(), which then sees the future started or done and
 *         touches nothing. A later read of 0 covers every earlier pin: each
 *         pin's increment precedes its own decrement in the counter's order.
 *
 * What the caller gets, and does not: its stack gets a leapfrogging limit
 * like a worker's (half of what lies below the call); it is registered with
 * liburcu (stealing reads other deques' buffers in read-side sections, and
 * a growing push frees old buffers after a grace period), unless the thread
 * registered itself, and stays registered until it exits (a thread-exit
 * destructor unregisters it), because a waiter that helps borrows once per
 * wait and registering takes liburcu's registry mutex, which a grace period
 * in progress holds; a registered thread outside a read-side section never
 * delays a grace period. (Unloading the library deletes the key and
 * unregisters the unloading thread; other threads that borrowed stay in
 * liburcu's registry.) The pool's worker hooks do not run on it,
 * and its CPU affinity is its own. A worker of another pool keeps its own
 * identity and does not borrow. */
#include <pthread.h>
#include <stdalign.h>
#include <stdint.h>

#ifndef WEFT_RECLAIM_RETIRE
/* The inline read-side API, for the reader's own registered flag. */
#define _LGPL_SOURCE
#include <urcu/urcu-memb.h>
#endif

#include "borrow.h"
#include "futex.h"
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

#ifndef WEFT_RECLAIM_RETIRE
/* The thread-exit destructor that unregisters a thread weft registered. */
static pthread_key_t rcu_key;
static bool rcu_key_ok;
static pthread_once_t rcu_key_once = PTHREAD_ONCE_INIT;
/* This thread was registered by a borrow and stays so until it exits. */
static _Thread_local bool rcu_ours;

static void rcu_thread_exit(void *unused)
{
    (void)unused;
    if (rcu_ours && URCU_TLS(urcu_memb_reader).registered)
        urcu_memb_unregister_thread();
    rcu_ours = false;
}

static void rcu_key_init(void)
{
    rcu_key_ok = pthread_key_create(&rcu_key, rcu_thread_exit) == 0;
}

/* Unloading the library: a destructor left behind would call into
 * unloaded code when its thread exits. */
__attribute__((destructor)) static void borrow_unload(void)
{
    if (rcu_key_ok) {
        rcu_thread_exit(NULL);
        (void)pthread_key_delete(rcu_key);
    }
}
#endif

static void rcu_enter(struct weft__borrow *b)
{
    b->rcu_registered = false;
#ifndef WEFT_RECLAIM_RETIRE
    if (!b->w->pool->rcu || URCU_TLS(urcu_memb_reader).registered)
        return;
    urcu_memb_register_thread();
    (void)pthread_once(&rcu_key_once, rcu_key_init);
    if (rcu_key_ok && pthread_setspecific(rcu_key, (void *)1) == 0)
        rcu_ours = true;
    else
        b->rcu_registered = true; /* no destructor: unregister at the end */
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

/* [BR4] Pin counters, one cache line each; a pool uses pins[pin_of(p)]. */
#define PIN_BUCKETS 64
static struct {
    alignas(WEFT_CACHE_LINE) _Atomic uint32_t n;
} pins[PIN_BUCKETS];
/* weft__borrow_quiesce sleeps this long between looks at a pin counter. */
#define QUIESCE_SLICE_NS 20000

static _Atomic uint32_t *pin_of(const struct weft_pool *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ull;
    return &pins[x >> 58].n;
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

int weft__borrow_begin_if(struct weft_pool *p, bool (*needed)(void *arg, const struct weft_pool *p),
                          void *arg, struct weft__borrow *b)
{
    b->w = NULL;
    if (weft__self != NULL)
        return WEFT_EAGAIN;
    _Atomic uint32_t *pin = pin_of(p);
    /* [BR4] acq_rel: see the Ordering block. */
    atomic_fetch_add_explicit(pin, 1, memory_order_acq_rel);
    int rc = needed(arg, p) ? weft__borrow_begin(p, b) : WEFT_EAGAIN;
    /* [BR4] acq_rel: every access to p above happens before destroy's
     * read of 0; from here on [BR3] holds p, if the borrow began. */
    atomic_fetch_sub_explicit(pin, 1, memory_order_acq_rel);
    return rc;
}

void weft__borrow_quiesce(struct weft_pool *p)
{
    _Atomic uint32_t *pin = pin_of(p);
    for (;;) {
        /* [BR4] acq_rel RMW read: see the Ordering block. */
        uint32_t n = atomic_fetch_add_explicit(pin, 0, memory_order_acq_rel);
        if (n == 0)
            return;
        struct timespec until;
        weft__deadline_in(&until, QUIESCE_SLICE_NS);
        weft__futex_wait(pin, n, &until); /* nobody wakes it: a timed sleep */
    }
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
