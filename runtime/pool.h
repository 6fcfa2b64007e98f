/* Internal layout of a pool and its workers, shared by the runtime files.
 *
 * Module map (dependencies point down):
 *   pool.c (lifecycle, submit) -> worker.c (loop, stealing, helping)
 *     -> park.c (idle protocol) -> deque.c, inject.c, futex.c, topology.c
 *   future.c (state word, callbacks), group.c (spawn/sync), parallel.c,
 *   waitset.c (wait, as_completed), map.c build on worker.c's helping. */
#ifndef WEFT_POOL_H
#define WEFT_POOL_H

#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "compiler.h"
#include "deque.h"
#include "fork.h"
#include "task.h"
#include "wait.h"
#include "weft.h"

struct weft__tier; /* topology.h */

struct weft_ctx {
    struct weft__ctx_head head; /* first: weft.h's inline group init reads it */
    struct weft__worker *worker;
    weft_future *future; /* NULL for spawned children and internal chunks */
};

struct weft__worker {
    struct weft__deque dq; /* own deque: push/take here, steal from others */

    /* Written by wakers and the owner: the futex word the worker parks on. */
    alignas(WEFT_CACHE_LINE) _Atomic uint32_t park;
    /* Spares only (spare.c [SP1]): SPARE_SLEEPING while parked as surplus,
     * set back by the waker that needs it. */
    _Atomic uint32_t gate;
    /* Written by the owner when it leaves or enters idleness: the CPU it is
     * busy on, or -1 while idle (topology.c, weft__topology_spread). */
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
    uint32_t unflushed;      /* finished submitted tasks not yet subtracted from life */
    uint32_t tick;           /* tasks since the injection queue was last polled */
    /* Private spawn stack (group.c; weft.h's inline spawn/sync use it).
     * Its last field, steal_req, is written by thieves that found this
     * deque empty: it asks the owner to publish its private children. The
     * alignment gives steal_req a cache line of its own (weft.h). */
    alignas(WEFT_CACHE_LINE) struct weft__lazy lazy;
    /* A new line again, so steal_req's line holds nothing else. */
    alignas(WEFT_CACHE_LINE) struct weft_ctx child_ctx; /* context of children run inline */
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
    bool nudged;             /* affinity narrowed by weft__topology_spread */
    cpu_set_t home;          /* affinity before a nudge, restored at parking */
    pthread_t thread;
};

/* pool->life: bit 0 STOP (no new submissions), bit 1 CANCEL (cancel what has
 * not started), bits 2..63: number of accepted tasks not yet finished. */
#define WEFT_LIFE_STOP 1ull
#define WEFT_LIFE_CANCEL 2ull
#define WEFT_LIFE_ONE 4ull

#define WEFT__NOT_SPARE 0xffffffffu

struct weft_pool {
    unsigned n;                    /* number of workers */
    unsigned nslots;               /* n + spare slots (spare.h) */
    struct weft__worker *workers;  /* nslots entries, cache-line aligned */
    /* Slots [0, live) are initialized and may be read by any worker:
     * n, then each spare slot whose thread was started (spare.c). */
    _Atomic unsigned live;
    weft_pool_options opts;        /* copy of the creation options */
    char name_prefix[12];
    size_t stack_size;             /* worker stack bytes */
    uint32_t forks;                /* weft__fork_count() at creation (fork.h) */
    bool rcu;                      /* old deque buffers freed after a grace period */
    unsigned *steal_order;         /* the n workers by locality (topology.h) */
    struct weft__tier *steal_tiers; /* every worker's tiers, one block */
    weft__settled_fn settled;      /* of the independent tasks (futures), task.h */

    /* External submissions: wait-free enqueue (xchg), dequeued in batches by
     * one worker at a time (inj_lock). */
    alignas(WEFT_CACHE_LINE) struct __cds_wfcq_head inj_head;
    alignas(WEFT_CACHE_LINE) struct cds_wfcq_tail inj_tail;
    alignas(WEFT_CACHE_LINE) _Atomic uint32_t inj_lock;

    /* Idle protocol (park.c): sleepers in the low 32 bits, searchers high. */
    alignas(WEFT_CACHE_LINE) _Atomic uint64_t idle;
    _Atomic uint64_t *parked_mask; /* bit w set: worker w parked and claimable */
    unsigned mask_words;

    /* Spares (spare.c): workers blocked in waits (low 31 bits) and
     * WEFT__SPARES_EXIT once the pool exits. */
    alignas(WEFT_CACHE_LINE) _Atomic uint32_t blocked;
    _Atomic uint32_t spare_gaps; /* a spare failed to start: ranks may lack threads */

    /* Lifecycle (pool.c). */
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


/* steal_req is a plain uint32_t in weft.h's layout; every access is a
 * relaxed __atomic builtin (weft.h's weft__steal_requested reads it): a hint
 * (group.c, "Lazy publication"); nothing is published through it, the
 * deque push does that. */
static inline void weft__steal_req_set(struct weft__worker *w, uint32_t v)
{
    __atomic_store_n(&w->lazy.steal_req, v, __ATOMIC_RELAXED);
}

/* Frame marks on the private stack (weft.h's WEFT__MARK): an odd word
 * holding the deque bottom at which the inline child's frame starts. */
static inline bool weft__is_mark(const weft_child *c)
{
    return ((uintptr_t)c & 1u) != 0;
}

static inline int64_t weft__mark_bottom(const weft_child *c)
{
    return (int64_t)((uintptr_t)c >> 1);
}

/* The context of a task running on w (f: its future, or NULL). */
static inline struct weft_ctx weft__ctx_make(struct weft__worker *w, weft_future *f)
{
    struct weft_ctx ctx = {.head = {.lazy = &w->lazy}, .worker = w, .future = f};
    return ctx;
}

/* A seq_cst fence for the store-load pairs of the parking protocol. TSan
 * does not model fences, so its builds use a seq_cst RMW on a pool-private
 * word instead: a full barrier on x86 (where TSan runs here), though not a
 * fence in the C11 model; TSan builds only look for data races, which this
 * does not hide. Callers say which pair the fence belongs to. */
static inline void weft__fence_seq_cst(struct weft_pool *p)
{
#ifdef WEFT_TSAN
    (void)atomic_fetch_add_explicit(&p->tsan_fence, 0, memory_order_seq_cst);
#else
    (void)p;
    atomic_thread_fence(memory_order_seq_cst);
#endif
}

/* ---- worker.c ---- */
/* Bookkeeping around running a task on w (deque and private-array bases
 * for helping, the strict fork/join check, statistics). */
struct weft__frame {
    int64_t bottom;
    unsigned priv;
    unsigned open;
};
/* Fill in slot `index` of pool p (pu: the PU to pin to, or -1). */
void weft__worker_setup(struct weft_pool *p, struct weft__worker *w, unsigned index, int pu);
/* Allocate w's deque and private spawn stack. Returns 0 or -ENOMEM. */
int weft__worker_queues_init(struct weft__worker *w);
/* Free them (also after a partial or no init: the slot is zeroed). */
void weft__worker_queues_fini(struct weft__worker *w);
/* Start w's thread (weft__worker_main). Returns 0 or -EAGAIN. */
int weft__worker_thread_start(struct weft__worker *w);
void weft__frame_enter(struct weft__worker *w, struct weft__frame *saved);
void weft__frame_leave(struct weft__worker *w, const struct weft__frame *saved);
void *weft__worker_main(void *arg);
/* Run task t on w as a nested or top-level task (stats, frame bookkeeping). */
void weft__run(struct weft__worker *w, struct weft__task *t);
/* Push t on w's own deque (flags: 0, or WEFT_DQ_INDEPENDENT for a
 * weft__itask) and wake an idle worker if none is searching. If the deque
 * cannot grow, t goes through the injection queue instead. */
void weft__push_local(struct weft__worker *w, struct weft__task *t, unsigned flags);
/* Queue independent task t on w's pool's injection queue (any worker
 * starts it) and wake an idle worker if none is searching. */
void weft__handoff(struct weft__worker *w, struct weft__task *t);
/* Owner: take the newest dependent task of w's deque above index floor.
 * Independent tasks on the way are set aside: disposed of if settled
 * (task.h), else handed off. NULL if there is none. */
struct weft__task *weft__take_dependent(struct weft__worker *w, int64_t floor);
/* Owner: dispose of the settled independent tasks on top of the running
 * frame's part of the deque (their handles ran them inline). */
void weft__discard_settled(struct weft__worker *w);
/* Move the running frame's private children onto the deque (oldest first)
 * so thieves can take them, clear steal_req, and wake a sleeper if needed. */
void weft__publish(struct weft__worker *w);
/* Help while waiting: find and run one task the awaited work depends on:
 * with own, one of the waiting frame's dependent tasks; then a dependent
 * task stolen from leap (may be NULL: leapfrogging). Runs nothing past the
 * stack bound. Returns true if a task ran. */
bool weft__help_one(struct weft__worker *w, struct weft__worker *leap, bool own);
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
/* Count a finished accepted task (batched into pool->life). */
void weft__task_finished(struct weft__worker *w);
/* Subtract finished tasks from life; detects the drained pool. */
void weft__life_sub(struct weft_pool *p, uint64_t ntasks);
/* Try to take tasks from the injection queue: returns one, pushes up to a
 * batch more onto w's deque. */
struct weft__task *weft__inject_take(struct weft__worker *w);
/* Steal one task from any other worker, nearest first. */
struct weft__task *weft__steal_any(struct weft__worker *w);

/* Subtract this worker's batched finished-task count from life now. */
void weft__worker_flush(struct weft__worker *w);

/* ---- group.c ---- */
/* Like weft_group_init, but children are published at once (no lazy
 * publication): for loops whose leaves run long. */
void weft__group_init_eager(weft_group *g, weft_ctx *ctx);
/* Make a private child stealable: fill in its task header and completion
 * word (spawn leaves them unset while the child is private), count it in
 * w->lazy.open until its sync, and return the header to push. Owner (w)
 * only, before the push publishes it. */
struct weft__task *weft__child_expose(struct weft__worker *w, weft_child *c);

/* ---- borrow.c ---- */
/* A thread that is no worker taking a parked worker's place for one
 * blocking call (borrow.c). */
struct weft__borrow {
    struct weft__worker *w; /* the worker borrowed, or NULL */
    uintptr_t stack_limit;  /* the worker's own, restored at the end */
    struct weft__frame frame;
    bool rcu_registered;    /* registered with liburcu for this call */
};
/* Become a parked worker of p until weft__borrow_end: b->w is then the
 * worker to run the call's work on, on this thread, and the call is
 * counted in p's life. Returns WEFT_OK; WEFT_EAGAIN if this thread is a
 * worker or no worker is parked (queue the work instead); WEFT_ESHUTDOWN
 * or WEFT_EBROKEN as weft__pool_admit. */
int weft__borrow_begin(struct weft_pool *p, struct weft__borrow *b);
/* Give the worker back once the work is done and synced (its deque and
 * private stack hold nothing of the call); p may be freed right after. */
void weft__borrow_end(struct weft__borrow *b);

/* ---- pool.c ---- */
/* Mark the pool drained (STOP set, nothing accepted left): wakes the
 * shutdown waiters and tells the workers to exit. Idempotent. */
void weft__pool_set_drained(struct weft_pool *p);
/* Count one unit of work in life, unless the pool is stopped or broken:
 * shutdown then waits for its weft__life_sub. Returns WEFT_OK,
 * WEFT_ESHUTDOWN, WEFT_EBROKEN. */
int weft__pool_admit(struct weft_pool *p);
/* Accept an independent task (a future's, or a root job that only goes
 * to the injection queue): counts it in life and queues it (a worker
 * of p: its own deque; otherwise: the injection queue, which starts tasks
 * in the order they were queued). Returns WEFT_OK, WEFT_ESHUTDOWN,
 * WEFT_EBROKEN. */
int weft__pool_accept(struct weft_pool *p, struct weft__task *t);
/* True if pool p's workers are cancelling unstarted submitted tasks. */
bool weft__pool_cancelling(const struct weft_pool *p);
/* True if p was created before a fork() that made this process: its
 * workers do not exist here, and nothing it holds will ever complete. */
static inline bool weft__pool_inherited(const struct weft_pool *p)
{
    return weft_unlikely(p->forks != weft__fork_count());
}

/* ---- park.c ---- */
/* After making work visible (deque push, injection, publication): wake one
 * sleeper if no worker is searching. One seq_cst fence and one load; a
 * syscall only when a worker sleeps. */
void weft__notify(struct weft_pool *p);
void weft__wake_all(struct weft_pool *p);
/* Worker w found nothing: search (bounded spin) and park. Returns a task if
 * it found one, NULL after waking up (the caller loops). */
struct weft__task *weft__idle(struct weft__worker *w);
/* Claim a parked worker for a thread that takes its place (borrow.c): the
 * worker's own thread sleeps on, no waker can claim it, and it no longer
 * counts as a sleeper. Returns the worker, or NULL if none is parked. */
struct weft__worker *weft__park_claim(struct weft_pool *p);
/* Give back a claimed worker: parked and claimable again, with the final
 * check of the parking protocol made on its behalf ([PK1] in park.c). */
void weft__park_return(struct weft__worker *w);
/* Set up the idle-protocol state of a new pool. Returns 0 or -ENOMEM. */
int weft__park_init(struct weft_pool *p);
void weft__park_fini(struct weft_pool *p);
/* Leave the searching state after finding work (wakes another searcher if
 * w was the last one and workers sleep). */
void weft__search_end(struct weft__worker *w);

#endif
