/* The scheduler's data: a pool's workers and the pool as the scheduler
 * sees it, with the few inline helpers every scheduler file needs, and
 * the life cycle of one worker slot (worker.c).
 *
 * Layers (docs/architecture.md), each calling only down:
 *   api       pool.c (options, create, shutdown, destroy, statistics)
 *   kinds     future*.c, promise.c, callback.c, group.c, parallel.c,
 *             waitset.c, as_completed.c, map.c   (through scheduler.h)
 *   scheduler borrow.c, wait.c, loop.c -> run.c -> lazy.c -> submit.c
 *             -> park.c -> spare.c, spread.c, steal.c -> worker.c
 *   leaves    deque, inject, word, futex, slab, topology, fork, alloc
 * The scheduler knows tasks only as records with operations (task.h). */
#ifndef WEFT_WORKER_H
#define WEFT_WORKER_H

#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "compiler.h"
#include "deque.h"
#include "fork.h"
#include "inject.h"
#include "task.h"
#include "weft.h"

struct weft__tier; /* topology.h */
struct weft__worker;


/* What a task running on a worker sees of it (weft.h's weft_ctx): one per
 * worker, which begins with the worker's spawn stack (weft.h's inline
 * group init takes the ctx pointer for it). The running task's future is
 * swapped in and out by whoever runs a task on the worker (run.h). */
struct weft_ctx {
    struct weft__lazy lazy; /* first: weft.h casts a ctx to its stack */
    /* A new line, so steal_req's line pair holds nothing else. */
    alignas(WEFT_CACHE_LINE) struct weft__worker *worker;
    weft_future *future; /* the running task's; NULL for children and chunks */
};

struct weft__worker {
    struct weft__deque dq; /* own deque: push/take here, steal from others */

    /* Written by wakers and the owner: the futex word the worker parks on. */
    alignas(WEFT_CACHE_LINE) _Atomic uint32_t park;
    /* The CPU the worker parked on: a placement hint for its waker. */
    _Atomic int park_cpu;
    /* Spares only (spare.c [SP1]): SPARE_SLEEPING while parked as surplus,
     * set back by the waker that needs it. */
    _Atomic uint32_t gate;
    /* Written by the owner when it leaves or enters idleness: the CPU it is
     * busy on, or -1 while idle (spread.c). */
    _Atomic int busy_cpu;

    /* Statistics: written by the owner (relaxed), read by anyone (relaxed). */
    alignas(WEFT_CACHE_LINE) _Atomic uint64_t st_tasks;
    _Atomic uint64_t st_steals;
    _Atomic uint64_t st_failed_steals;
    _Atomic uint64_t st_parks;

    /* Owner-private from here on (immutable after start for the rest). */
    alignas(WEFT_CACHE_LINE) struct weft_pool *pool;
    unsigned index;
    uint64_t rng;            /* xorshift state for victim choice */
    uintptr_t stack_limit;   /* frames below this address run nothing inline */
    uint32_t credit;         /* counts in pool->life no task of this worker needs (submit.c) */
    uint32_t tick;           /* tasks since the injection queue was last polled */
    /* The tasks' context, whose first part is the private spawn stack
     * (ctx.lazy: lazy.c; weft.h's inline spawn/sync use it). The stack's
     * last field, steal_req, is written by thieves that found this deque
     * empty: it asks the owner to publish its private children. The
     * alignment gives steal_req a cache line of its own (weft.h). */
    alignas(WEFT_CACHE_LINE) struct weft_ctx ctx;
    bool searching;          /* counted in the pool's searchers */
    unsigned spare_rank;     /* k for spare k (spare.h), WEFT__NOT_SPARE for workers */
    int64_t wait_since;      /* start of this stretch of waiting, 0: running (wait.c) */
    bool spare_held;         /* this worker counts in pool->blocked (spare.h) */
    bool spare_ok;           /* and the spare of its rank runs */
    unsigned spare_want;     /* that rank */
    _Atomic uint32_t spare_started; /* spare slots: 1 once a starter owns the slot */
    int pu;                  /* pinned PU (hwloc os index) or -1 */
    const struct weft__tier *tiers; /* victims, nearest first (topology.h) */
    unsigned ntiers;
    unsigned order_pos;      /* this worker's position in pool->steal_order */
    bool nudged;             /* affinity narrowed by spread.c */
    int counted_cpu;         /* the CPU it is counted busy on (spread.c), or -1 */
    cpu_set_t home;          /* affinity before a nudge, restored at parking */
    pthread_t thread;
};

/* Make f (NULL for children, chunks and roots) the future of the task
 * about to run in w's ctx; returns the future it replaces, which the caller
 * swaps back once the task returned (tasks nest on a worker: a wait runs
 * others inside one). Owner only. */
static inline weft_future *weft__ctx_swap(struct weft__worker *w, weft_future *f)
{
    weft_future *outer = w->ctx.future;
    w->ctx.future = f;
    return outer;
}

/* pool->life: bit 0 STOP (no new submissions), bit 1 CANCEL (cancel what has
 * not started), bits 2..63: number of accepted tasks not yet finished. */
#define WEFT_LIFE_STOP 1ull
#define WEFT_LIFE_CANCEL 2ull
#define WEFT_LIFE_ONE 4ull

#define WEFT__NOT_SPARE 0xffffffffu

struct weft_pool {
    unsigned n;                    /* number of workers */
    unsigned nslots;               /* n + spare slots (spare.h) */
    unsigned ncpus;                /* CPUs the process may run on at creation */
    struct weft__worker *workers;  /* nslots entries, cache-line aligned */
    /* Slots [0, live) are initialized and may be read by any worker:
     * n, then each spare slot whose thread was started (spare.c). */
    _Atomic unsigned live;
    weft_pool_options opts;        /* copy of the creation options */
    char name_prefix[12];
    size_t stack_size;             /* worker stack bytes */
    uint32_t forks;                /* weft__fork_count() at creation (fork.h) */
    bool rcu;                      /* old deque buffers freed after a grace period */
    void *(*thread_main)(void *w); /* what worker threads run (loop.c) */
    const struct weft__task_ops *batch_ops; /* runs a batch of children (group.c) */
    /* Busy workers per CPU id (spread.c), a line pair each. */
    struct weft__cpu_busy {
        alignas(WEFT_CACHE_LINE) _Atomic uint32_t workers;
    } *cpu_busy;
    unsigned cpu_slots;            /* entries in cpu_busy: highest allowed CPU id + 1 */
    unsigned *steal_order;         /* the n workers by locality (topology.h) */
    struct weft__tier *steal_tiers; /* every worker's tiers, one block */

    /* Tasks queued from outside the pool's workers (inject.h). */
    struct weft__inject inj;

    /* Idle protocol (park.c): sleepers in the low 32 bits, searchers high. */
    alignas(WEFT_CACHE_LINE) _Atomic uint64_t idle;
    _Atomic uint64_t *parked_mask; /* bit w set: worker w parked and claimable */
    unsigned mask_words;

    /* Spares (spare.c): workers blocked in waits (low 31 bits) and
     * WEFT__SPARES_EXIT once the pool exits. */
    alignas(WEFT_CACHE_LINE) _Atomic uint32_t blocked;
    _Atomic uint32_t spare_gaps; /* a spare failed to start: ranks may lack threads */

    /* Accepted work and the drain (submit.c). */
    alignas(WEFT_CACHE_LINE) _Atomic uint64_t life;
    _Atomic uint32_t drained;  /* futex word: 1 once STOP and no accepted task left */
    _Atomic uint32_t exiting;  /* workers leave their loops */
    _Atomic uint32_t broken;   /* an on_worker_start hook failed */
#ifdef WEFT_TSAN
    _Atomic uint64_t tsan_fence; /* RMW target standing in for fences under TSan */
#endif
};

/* The worker running on this thread, or NULL. initial-exec: one
 * fs-relative load even from the shared library (no __tls_get_addr call on
 * the spawn path); a single pointer fits the static TLS reserve of dlopen. */
extern _Thread_local struct weft__worker *weft__self
    __attribute__((tls_model("initial-exec")));

/* A seq_cst fence for the store-load pairs of the parking and spare
 * protocols. TSan does not model fences, so its builds use a seq_cst RMW on
 * a pool-private word instead: a full barrier on x86 (where TSan runs
 * here), though not a fence in the C11 model; TSan builds only look for
 * data races, which this does not hide. Callers say which pair the fence
 * belongs to. */
static inline void weft__fence_seq_cst(struct weft_pool *p)
{
#ifdef WEFT_TSAN
    (void)atomic_fetch_add_explicit(&p->tsan_fence, 0, memory_order_seq_cst);
#else
    (void)p;
    atomic_thread_fence(memory_order_seq_cst);
#endif
}

/* Owner-private statistic counter: relaxed load + store, since only the
 * owner writes it; readers accept a slightly stale value. No RMW needed. */
static inline void weft__stat_inc(_Atomic uint64_t *c)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

/* True while w's thread has stack to run more work inline: every inline
 * run (helping, a waiter running its awaited task, sync running a child
 * from the slow path) checks it; past it, waits block (spare.h). */
static inline bool weft__stack_room(const struct weft__worker *w)
{
    return (uintptr_t)__builtin_frame_address(0) > w->stack_limit;
}

/* Name w as the worker to leapfrog onto for the work it is about to run,
 * if w's deque is empty now: everything on it while that work runs then
 * descends from it (only the owner pushes). A worker that took the work
 * inside a helping wait may hold its outer frames' work there (a nonempty
 * snapshot is the safe answer): it is named NULL, since a leapfrogger
 * stealing that would run a sibling or an uncle of the awaited work on top
 * of its wait. A pool of one worker has no one to leapfrog: the hint stays
 * NULL, as the record's creator set it, and the deque loads are saved.
 * relaxed: a hint read by helping waits (wait.c). */
static inline void weft__leap_hint_set(weft__leap_hint *hint, struct weft__worker *w)
{
    if (w->pool->n > 1)
        atomic_store_explicit(hint, weft__deque_nonempty(&w->dq) ? NULL : w,
                              memory_order_relaxed);
}

/* Fill in slot `index` of pool p (pu: the PU to pin to, or -1). */
void weft__worker_setup(struct weft_pool *p, struct weft__worker *w, unsigned index, int pu);
/* Allocate w's deque and spawn stack. Returns 0 or -ENOMEM. */
int weft__worker_queues_init(struct weft__worker *w);
/* Free them (also after a partial or no init: the slot is zeroed). */
void weft__worker_queues_fini(struct weft__worker *w);
/* Start w's thread (pool->thread_main). Returns 0 or -EAGAIN. */
int weft__worker_thread_start(struct weft__worker *w);
/* Give p's n workers their victim lists (pus[w]: worker w's PU or -1).
 * Returns 0 or -ENOMEM. */
int weft__workers_place(struct weft_pool *p, const int *pus);
#endif
