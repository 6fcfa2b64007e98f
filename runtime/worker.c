/* The worker loop: run own tasks, poll the injection queue, steal, and go
 * idle (park.c). Also the help-while-waiting step used by every wait.
 *
 * Ordering and invariants
 *   [WK1] inj_lock: acquire exchange / release store: one worker at a time
 *         dequeues from the injection queue (wfcqueue requires dequeuers to
 *         exclude each other; enqueuers never take it).
 *   [WK2] life: acq_rel subtraction of finished tasks; the release half
 *         publishes the tasks' effects to the thread that sees the pool
 *         drained (acquire load of drained in pool.c).
 *   Stealing runs inside a liburcu-memb read-side section when the pool
 *   frees old deque buffers after grace periods (pool->rcu): a victim's old
 *   buffer is not freed while we may read it. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#ifndef WEFT_RECLAIM_RETIRE
#include <urcu/urcu-memb.h>
#endif

#include "alloc.h"
#include "inject.h"
#include "pool.h"
#include "spare.h"
#include "topology.h"

_Thread_local struct weft__worker *weft__self __attribute__((tls_model("initial-exec")));
__thread struct weft__lazy *weft__tls_lazy __attribute__((tls_model("initial-exec")));
_Static_assert(offsetof(struct weft__lazy, steal_req) % 64 == 0,
               "steal_req must start a cache line (weft.h)");

/* Tasks run between polls of the injection queue while the own deque is
 * busy, so external submissions are not starved (Go uses 61 too). */
#define INJECT_POLL_TICKS 61
/* Initial deque and private spawn stack slots per worker (both grow). */
#define DEQUE_INIT_CAP 256
#define LAZY_INIT_CAP 256
/* Looks at a held injection lock before inject_take gives up (~1 us). */
#define INJECT_LOCK_TRIES 32
/* Finished tasks counted locally before one RMW on pool->life. */
#define FLUSH_BATCH 256

static inline void stat_inc(_Atomic uint64_t *c)
{
    /* relaxed load + store: only the owner writes its counters; readers
     * accept a slightly stale value. No RMW needed. */
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

static inline uint64_t rng_next(struct weft__worker *w)
{
    uint64_t x = w->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return w->rng = x;
}

void weft__worker_setup(struct weft_pool *p, struct weft__worker *w, unsigned index, int pu)
{
    w->pool = p;
    w->index = index;
    w->pu = pu;
    w->spare_rank = index < p->n ? WEFT__NOT_SPARE : index - p->n;
    w->rng = 0x9E3779B97F4A7C15ull * (index + 1) ^ (uint64_t)(uintptr_t)p;
    w->child_ctx = weft__ctx_make(w, NULL);
    w->lazy.ctx = &w->child_ctx;
}

int weft__worker_queues_init(struct weft__worker *w)
{
    if (weft__deque_init(&w->dq, DEQUE_INIT_CAP, w->pool->rcu) != 0)
        return -ENOMEM;
    /* weft.h reads it with a relaxed __atomic load (owner only): the
     * same object, seen without the _Atomic qualifier it has here. */
    w->lazy.dqb = (const int64_t *)&w->dq.bottom;
    w->lazy.cap = LAZY_INIT_CAP;
    w->lazy.items = weft__malloc(LAZY_INIT_CAP * sizeof(*w->lazy.items));
    if (w->lazy.items == NULL) {
        weft__deque_fini(&w->dq);
        return -ENOMEM;
    }
    return 0;
}

void weft__worker_queues_fini(struct weft__worker *w)
{
    weft__deque_fini(&w->dq);
    free(w->lazy.items);
    w->lazy.items = NULL;
}

int weft__worker_thread_start(struct weft__worker *w)
{
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0)
        return -EAGAIN;
    pthread_attr_setstacksize(&attr, w->pool->stack_size);
    int rc = weft__thread_create(&w->thread, &attr, weft__worker_main, w);
    pthread_attr_destroy(&attr);
    return rc == 0 ? 0 : -EAGAIN;
}

void weft__frame_enter(struct weft__worker *w, struct weft__frame *saved)
{
    saved->bottom = w->lazy.bottom;
    saved->priv = w->lazy.base;
    saved->open = w->lazy.open;
    w->lazy.bottom = weft__deque_bottom(&w->dq);
    w->lazy.base = w->lazy.n;
}

void weft__frame_leave(struct weft__worker *w, const struct weft__frame *saved)
{
    /* Strict fork/join: a task that returns with unsynced children leaves
     * records in a dead stack frame. Debug builds stop right here. Private
     * children of the task lie above its base; exposed ones are counted in
     * open from weft__child_expose to their sync. */
    if (w->lazy.n != w->lazy.base || w->lazy.open != saved->open)
        WEFT_DEBUG_FAIL("a task returned without weft_sync() of its spawned children");
    if (weft_unlikely(weft__deque_bottom(&w->dq) > w->lazy.bottom))
        weft__discard_settled(w);
    w->lazy.bottom = saved->bottom;
    w->lazy.base = saved->priv;
    stat_inc(&w->st_tasks);
}

void weft__run(struct weft__worker *w, struct weft__task *t)
{
    weft__spare_release(w); /* running again: the spare may go */
    struct weft__frame saved;
    weft__frame_enter(w, &saved);
    t->exec(t, w);
    weft__frame_leave(w, &saved);
}

void weft__push_local(struct weft__worker *w, struct weft__task *t, unsigned flags)
{
    struct weft_pool *p = w->pool;
    if (weft_likely(weft__deque_push(&w->dq, t, flags) == 0)) {
        weft__notify(p);
        return;
    }
    /* The deque could not grow: the injection queue needs no allocation. */
    weft__inject_push(&p->inj_head, &p->inj_tail, t);
    weft__notify(p);
}

/* Index just above the innermost frame mark in the running task's part of
 * the private stack whose deque bottom is below `below`, or base.
 * below = INT64_MAX: the innermost mark, where the waiting frame starts.
 * below = the deque bottom: where publication may start, after the highest
 * mark whose frame already has entries on the deque (a frame whose mark
 * equals the bottom has none yet); pushing an outer frame's children above
 * those entries would put siblings within reach of that frame's helping
 * waits and deque pops. */
static unsigned mark_above(const struct weft__lazy *l, int64_t below)
{
    for (unsigned i = l->n; i > l->base; i--) {
        const weft_child *c = l->items[i - 1];
        if (weft__is_mark(c) && weft__mark_bottom(c) < below)
            return i;
    }
    return l->base;
}

void weft__publish(struct weft__worker *w)
{
    struct weft_pool *p = w->pool;
    struct weft__lazy *l = &w->lazy;
    /* relaxed: a hint; what thieves need is published by the pushes. */
    weft__steal_req_set(w, 0);
    unsigned i = mark_above(l, weft__deque_bottom(&w->dq)), keep = i, pushed = 0;
    bool full = false;
    for (; i < l->n; i++) {
        weft_child *c = l->items[i];
        if (weft__is_mark(c)) {
            /* The inner frame now starts above the children pushed below. */
            l->items[keep++] = weft__mark_here(l);
            continue;
        }
        if (!full) {
            full = weft__deque_push(&w->dq, weft__child_expose(w, c), 0) != 0;
            if (!full) {
                pushed++;
                continue;
            }
            l->open--; /* exposed, but not published: private again */
        }
        /* The deque cannot grow: c and the newer children stay private
         * (the injection queue is no place for a child, group.c). */
        l->items[keep++] = c;
    }
    l->n = keep;
    if (pushed == 0)
        return;
    /* Publication answers an idle worker that may be parking right now: use
     * the fenced notify ([PK1] in park.c), not the cheap internal one. */
    weft__notify(p);
}

void weft__life_sub(struct weft_pool *p, uint64_t ntasks)
{
    /* [WK2] acq_rel: see the Ordering block. */
    uint64_t old = atomic_fetch_sub_explicit(&p->life, ntasks * WEFT_LIFE_ONE,
                                             memory_order_acq_rel);
    uint64_t now = old - ntasks * WEFT_LIFE_ONE;
    if ((now & WEFT_LIFE_STOP) && now / WEFT_LIFE_ONE == 0)
        weft__pool_set_drained(p);
}

static void flush_finished(struct weft__worker *w)
{
    if (w->unflushed) {
        weft__life_sub(w->pool, w->unflushed);
        w->unflushed = 0;
    }
}

void weft__task_finished(struct weft__worker *w)
{
    if (++w->unflushed >= FLUSH_BATCH)
        flush_finished(w);
}

void weft__worker_flush(struct weft__worker *w)
{
    flush_finished(w);
}

/* External submissions start in the order they were queued: a worker
 * takes one task at a time and runs it, never parking a batch on its LIFO
 * deque (which would start a batch newest first). */
struct weft__task *weft__inject_take(struct weft__worker *w)
{
    struct weft_pool *p = w->pool;
    if (cds_wfcq_empty(&p->inj_head, &p->inj_tail))
        return NULL;
    /* The holder pops one task and lets go: wait for it a little (bounded)
     * rather than report no work and go idle while the queue holds some.
     * relaxed: a look before the exchange, so that workers polling a busy
     * lock do not take its line away from the holder. [WK1] acquire: the
     * exchange that wins the lock. */
    for (unsigned i = 0;; i++) {
        if (!atomic_load_explicit(&p->inj_lock, memory_order_relaxed) &&
            !atomic_exchange_explicit(&p->inj_lock, 1, memory_order_acquire))
            break;
        if (i == INJECT_LOCK_TRIES)
            return NULL;
        weft__cpu_relax();
    }
    struct weft__task *t = weft__inject_pop(&p->inj_head, &p->inj_tail);
    /* [WK1] release: ends our exclusive dequeue. */
    atomic_store_explicit(&p->inj_lock, 0, memory_order_release);
    return t;
}

void weft__handoff(struct weft__worker *w, struct weft__task *t)
{
    struct weft_pool *p = w->pool;
    /* wfcqueue enqueue is an xchg: a full barrier before the notify. */
    weft__inject_push(&p->inj_head, &p->inj_tail, t);
    weft__notify(p);
}

/* t is an independent task of w's pool (the deque flags say so). */
static bool settled(const struct weft__worker *w, const struct weft__task *t)
{
    return w->pool->settled(t);
}

/* Drop the queue's reference to a settled task: its exec runs no task
 * function (task.h), so it needs no frame of its own. */
static void dispose_settled(struct weft__worker *w, struct weft__task *t)
{
    t->exec(t, w);
}

struct weft__task *weft__take_dependent(struct weft__worker *w, int64_t floor)
{
    while (weft__deque_bottom(&w->dq) > floor) {
        unsigned flags;
        struct weft__task *t = weft__deque_take(&w->dq, &flags);
        if (t == NULL || !(flags & WEFT_DQ_INDEPENDENT))
            return t;
        /* Set aside: run it if it only needs disposing (no user code
         * runs), else hand it to the injection queue, where any worker
         * starts it, so that the dependent tasks below come within reach. */
        if (settled(w, t))
            dispose_settled(w, t);
        else
            weft__handoff(w, t);
    }
    return NULL;
}

void weft__discard_settled(struct weft__worker *w)
{
    while (weft__deque_bottom(&w->dq) > w->lazy.bottom &&
           weft__deque_peek_flags(&w->dq) == WEFT_DQ_INDEPENDENT) {
        struct weft__task *t = weft__deque_take(&w->dq, NULL);
        if (t == NULL)
            return;
        if (!settled(w, t)) {
            /* Still to run: back on top, where it was. */
            weft__push_local(w, t, WEFT_DQ_INDEPENDENT);
            return;
        }
        dispose_settled(w, t);
    }
}

static struct weft__task *steal_from(struct weft__worker *w, struct weft__worker *v,
                                     bool dependent_only)
{
    struct weft__task *t;
    for (int attempt = 0; attempt < 4; attempt++) {
        int r = weft__deque_steal(&v->dq, &t, dependent_only);
        if (r == WEFT_STEAL_OK) {
            stat_inc(&w->st_steals);
            return t;
        }
        if (r == WEFT_STEAL_EMPTY) {
            /* Ask the owner to publish private children. relaxed: a hint,
             * loaded first so an existing request costs no line transfer. */
            if (!weft__steal_requested(&v->lazy))
                weft__steal_req_set(v, 1);
            break;
        }
        if (r == WEFT_STEAL_SKIP)
            break;
    }
    return NULL;
}

/* Steal from the slots [from, to), other than w, starting at a random
 * one. */
static struct weft__task *sweep_range(struct weft__worker *w, unsigned from, unsigned to)
{
    struct weft_pool *p = w->pool;
    unsigned len = to - from;
    unsigned off = len ? (unsigned)(rng_next(w) % len) : 0;
    for (unsigned i = 0; i < len; i++) {
        unsigned k = from + (off + i) % len;
        if (k == w->index)
            continue;
        struct weft__task *t = steal_from(w, &p->workers[k], false);
        if (t)
            return t;
    }
    return NULL;
}

/* Spares (spare.h) have no victim list: they scan the workers flat. Every
 * thief then scans the spare slots [n, live) that have run: their deques
 * may hold work whether or not the spare is needed now. */
static struct weft__task *sweep_spares(struct weft__worker *w)
{
    struct weft_pool *p = w->pool;
    struct weft__task *t = NULL;
    if (w->spare_rank != WEFT__NOT_SPARE)
        t = sweep_range(w, 0, p->n);
    /* acquire [SP2] (spare.c): the slots below live are initialized. */
    unsigned live = atomic_load_explicit(&p->live, memory_order_acquire);
    return t != NULL ? t : sweep_range(w, p->n, live);
}

static struct weft__task *sweep(struct weft__worker *w)
{
    struct weft_pool *p = w->pool;
    struct weft__tier in = {w->order_pos, w->order_pos + 1};
    for (unsigned k = 0; k < w->ntiers; k++) {
        unsigned len = weft__tier_len(w->tiers[k], in);
        unsigned off = (unsigned)(rng_next(w) % len);
        for (unsigned i = 0; i < len; i++) {
            unsigned v = weft__tier_victim(p->steal_order, w->tiers[k], in, (off + i) % len);
            struct weft__task *t = steal_from(w, &p->workers[v], false);
            if (t)
                return t;
        }
        in = w->tiers[k];
    }
    return sweep_spares(w);
}

/* Steal from v, or from any victim when v is NULL. Stealing reads victims'
 * deque buffers, which a growing push may retire concurrently: freed after
 * a grace period, that needs a read-side section. Pools that keep old buffers
 * until the end (pool->rcu false) need none. */
static struct weft__task *steal_guarded(struct weft__worker *w, struct weft__worker *v)
{
#ifndef WEFT_RECLAIM_RETIRE
    bool rcu = w->pool->rcu;
    if (rcu)
        urcu_memb_read_lock();
#endif
    struct weft__task *t = v != NULL ? steal_from(w, v, true) : sweep(w);
#ifndef WEFT_RECLAIM_RETIRE
    if (rcu)
        urcu_memb_read_unlock();
#endif
    return t;
}

struct weft__task *weft__steal_any(struct weft__worker *w)
{
    /* relaxed: a hint; a pool of one worker without spares has no victim. */
    if (w->pool->n < 2 && atomic_load_explicit(&w->pool->live, memory_order_relaxed) < 2)
        return NULL;
    struct weft__task *t = steal_guarded(w, NULL);
    if (t == NULL)
        stat_inc(&w->st_failed_steals);
    return t;
}

/* A helping wait runs only work that the awaited work depends on: never
 * an independent task, and never unrelated work, which (the greedy
 * rayon/TBB-without-isolation choice) deadlocks on dependencies that have
 * no cycle: A waits for B, A's wait picks up C, C waits for what A does
 * after its wait, and A can never resume under C. With own, the waiting
 * frame's dependent tasks (a sync waits for its children: they and their
 * descendants lie above the frame's marks). With leap, the dependent tasks
 * of the worker running the awaited work. Nothing past the stack bound. */
bool weft__help_one(struct weft__worker *w, struct weft__worker *leap, bool own)
{
    if (!weft__stack_room(w))
        return false;
    struct weft__task *t = NULL;
    /* relaxed: a hint (see weft__publish). */
    if (weft__steal_requested(&w->lazy))
        weft__publish(w);
    struct weft__lazy *l = &w->lazy;
    if (own) {
        /* Private children above the innermost frame mark belong to the
         * waiting frame. Below the mark lie the children of the frame that
         * runs it inline: its siblings. */
        unsigned start = mark_above(l, INT64_MAX);
        if (l->n > start)
            t = weft__child_expose(w, l->items[--l->n]);
        /* Deque entries above the frame's mark were pushed by the waiting
         * frame. Below it lies its ancestors' and siblings' work. */
        int64_t mark = l->bottom;
        if (start > l->base && weft__mark_bottom(l->items[start - 1]) > mark)
            mark = weft__mark_bottom(l->items[start - 1]);
        if (t == NULL)
            t = weft__take_dependent(w, mark);
    }
    /* Leapfrogging: the thief of the work we wait for started it with an
     * empty deque (weft__leap_hint_set), so while that work runs its deque
     * holds only the work's descendants, of which the steal takes only
     * dependent ones. The one exception: the work ends after our caller's
     * check of its word and the thief, back in its loop, pushes unrelated
     * dependent work that this steal takes. That needs this thread to
     * stall between the check and the steal while the thief finishes the
     * work and starts another; and it deadlocks only if the stolen task
     * then waits for what the waiting task does after its wait. */
    if (t == NULL && leap != NULL && leap != w)
        t = steal_guarded(w, leap);
    if (t == NULL)
        return false;
    weft__run(w, t);
    return true;
}

static struct weft__task *find_local(struct weft__worker *w)
{
    struct weft__task *t;
    if (++w->tick >= INJECT_POLL_TICKS) {
        w->tick = 0;
        if ((t = weft__inject_take(w)) != NULL)
            return t;
    }
    if ((t = weft__deque_take(&w->dq, NULL)) != NULL)
        return t;
    return weft__inject_take(w);
}

static void worker_start(struct weft__worker *w, char *anchor)
{
    struct weft_pool *p = w->pool;
    char name[16];
    snprintf(name, sizeof(name), "%s%u", p->name_prefix, w->index);
    pthread_setname_np(pthread_self(), name);
    weft__self = w;
    weft__tls_lazy = &w->lazy;
    if (w->pu >= 0)
        weft__topology_bind_self(w->pu);
    /* relaxed: a placement hint (topology.c). */
    atomic_store_explicit(&w->busy_cpu, sched_getcpu(), memory_order_relaxed);
#ifndef WEFT_RECLAIM_RETIRE
    if (p->rcu)
        urcu_memb_register_thread();
#endif
    w->stack_limit = (uintptr_t)anchor - p->stack_size / 2;
    if (p->opts.on_worker_start && p->opts.on_worker_start(w->index, p->opts.hook_ud) != 0) {
        /* release: pairs with the acquire loads of broken in submit and in
         * the future task's exec, which then fail with WEFT_EBROKEN. */
        atomic_store_explicit(&p->broken, 1, memory_order_release);
    }
}

static void worker_stop(struct weft__worker *w)
{
    struct weft_pool *p = w->pool;
    flush_finished(w);
    if (p->opts.on_worker_stop)
        (void)p->opts.on_worker_stop(w->index, p->opts.hook_ud);
#ifndef WEFT_RECLAIM_RETIRE
    if (p->rcu)
        urcu_memb_unregister_thread();
#endif
    weft__self = NULL;
    weft__tls_lazy = NULL;
}

void *weft__worker_main(void *arg)
{
    struct weft__worker *w = arg;
    char anchor;
    worker_start(w, &anchor);
    for (;;) {
        if (weft_unlikely(weft__spare_surplus(w))) {
            /* A spare no longer needed finishes its own tasks, then parks
             * until it is needed again (spare.h). */
            struct weft__task *own = weft__deque_take(&w->dq, NULL);
            if (own != NULL) {
                weft__run(w, own);
                continue;
            }
            flush_finished(w);
            if (!weft__spare_park(w))
                break;
            continue;
        }
        struct weft__task *t = find_local(w);
        if (t == NULL) {
            weft__spare_release(w);
            flush_finished(w);
            t = weft__idle(w);
        }
        if (t != NULL)
            weft__run(w, t);
        /* acquire: pairs with the release store in weft__pool_set_drained;
         * it is only set once no accepted task is left. */
        else if (atomic_load_explicit(&w->pool->exiting, memory_order_acquire))
            break;
    }
    worker_stop(w);
    return NULL;
}
