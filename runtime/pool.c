/* Pool lifecycle: create, accept (submit), shutdown, destroy, statistics.
 *
 * Ordering and invariants
 *   [PL1] life counts accepted, unfinished tasks next to the STOP and CANCEL
 *         bits in one word. accept is one RMW: either it precedes shutdown's
 *         fetch_or in the word's modification order (the task is counted and
 *         shutdown waits for it) or it sees STOP and backs out. So a task is
 *         never accepted after the drain was observed. relaxed suffices for
 *         the counting: both sides act on the same location.
 *   [PL2] drained: release store by the thread that saw the count reach 0
 *         with STOP set (after the acq_rel subtraction, worker.c [WK2]) ->
 *         acquire load by shutdown waiters. exiting: the same for workers.
 *   Every accepted task either runs or is cancelled, and only then is it
 *   subtracted from life; workers exit only once life shows STOP and 0. */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "futex.h"
#include "inject.h"
#include "future.h"
#include "pool.h"
#include "spare.h"
#include "topology.h"

#define DEFAULT_SPIN_US 50
#define DEFAULT_STACK (8u << 20)

void weft_pool_options_init(weft_pool_options *o)
{
    if (o == NULL)
        return;
    memset(o, 0, sizeof(*o));
    o->struct_size = sizeof(*o);
    o->spin_us = DEFAULT_SPIN_US;
}

static int read_options(weft_pool_options *o, const weft_pool_options *user)
{
    weft_pool_options_init(o);
    if (user == NULL)
        return WEFT_OK;
    if (user->struct_size < offsetof(weft_pool_options, reserved) ||
        user->struct_size > sizeof(*o))
        return WEFT_EINVAL;
    memcpy(o, user, user->struct_size);
    if ((unsigned)o->pin > WEFT_PIN_SCATTER || o->workers > WEFT_MAX_WORKERS)
        return WEFT_EINVAL;
    for (size_t i = 0; i < sizeof(o->reserved) / sizeof(o->reserved[0]); i++)
        if (o->reserved[i] != 0)
            return WEFT_EINVAL;
    return WEFT_OK;
}

static void pool_free(struct weft_pool *p)
{
    if (p->workers) {
        for (unsigned i = 0; i < p->n; i++)
            weft__worker_queues_fini(&p->workers[i]);
        free(p->workers);
    }
    free(p->steal_order);
    free(p->steal_tiers);
    weft__park_fini(p);
    free(p);
}

static int init_workers(struct weft_pool *p)
{
    p->workers = weft__aligned_alloc(WEFT_CACHE_LINE, sizeof(struct weft__worker) * p->nslots);
    if (p->workers == NULL)
        return WEFT_ENOMEM;
    memset(p->workers, 0, sizeof(struct weft__worker) * p->nslots);
    /* relaxed: not shared until the workers start. */
    atomic_store_explicit(&p->live, p->n, memory_order_relaxed);
    for (unsigned i = p->n; i < p->nslots; i++)
        weft__worker_setup(p, &p->workers[i], i, -1);
    int *pus = weft__malloc(sizeof(int) * p->n);
    if (pus == NULL)
        return WEFT_ENOMEM;
    int rc = weft__topology_plan(p->opts.pin, p->n, pus);
    for (unsigned i = 0; i < p->n && rc == 0; i++) {
        struct weft__worker *w = &p->workers[i];
        weft__worker_setup(p, w, i, pus[i]);
        rc = weft__worker_queues_init(w);
    }
    if (rc == 0)
        rc = weft__topology_victims(p, pus);
    free(pus);
    return rc == 0 ? WEFT_OK : WEFT_ENOMEM;
}

static int start_workers(struct weft_pool *p)
{
    pthread_attr_t attr;
    if (pthread_attr_init(&attr) != 0)
        return WEFT_EAGAIN;
    pthread_attr_setstacksize(&attr, p->stack_size);
    unsigned started = 0;
    for (; started < p->n; started++)
        if (weft__thread_create(&p->workers[started].thread, &attr, weft__worker_main,
                                &p->workers[started]) != 0)
            break;
    pthread_attr_destroy(&attr);
    if (started == p->n)
        return WEFT_OK;
    /* Stop the ones that started: nothing was accepted yet. */
    atomic_fetch_or_explicit(&p->life, WEFT_LIFE_STOP, memory_order_relaxed);
    weft__pool_set_drained(p);
    for (unsigned i = 0; i < started; i++)
        pthread_join(p->workers[i].thread, NULL);
    return WEFT_EAGAIN;
}

int weft_pool_create(weft_pool **out, const weft_pool_options *opts)
{
    weft_pool_options o;
    if (out == NULL || read_options(&o, opts) != WEFT_OK)
        return WEFT_EINVAL;
    struct weft_pool *p = weft__aligned_alloc(WEFT_CACHE_LINE, sizeof(*p));
    if (p == NULL)
        return WEFT_ENOMEM;
    memset(p, 0, sizeof(*p));
    p->opts = o;
    p->settled = weft__future_settled;
    p->n = o.workers ? o.workers : weft__topology_cpus();
    if (p->n > WEFT_MAX_WORKERS)
        p->n = WEFT_MAX_WORKERS;
    p->nslots = p->n + weft__spare_slots(p->n);
    p->stack_size = o.stack_size ? o.stack_size : DEFAULT_STACK;
    if (p->stack_size < (size_t)PTHREAD_STACK_MIN)
        p->stack_size = PTHREAD_STACK_MIN;
    snprintf(p->name_prefix, sizeof(p->name_prefix), "%s", o.name_prefix ? o.name_prefix : "weft-");
    p->opts.name_prefix = NULL; /* not owned; the copy above is used */
    __cds_wfcq_init(&p->inj_head, &p->inj_tail);
    weft__fork_watch();
    p->forks = weft__fork_count();
#ifndef WEFT_RECLAIM_RETIRE
    /* In a forked child a reader may be frozen inside a read-side section
     * (its thread stayed in the parent), so a grace period might never end:
     * this pool keeps its old deque buffers on the retire list instead
     * (fork.h). */
    p->rcu = p->forks == 0;
#endif
    int rc = weft__park_init(p) == 0 ? init_workers(p) : WEFT_ENOMEM;
    if (rc == WEFT_OK)
        rc = start_workers(p);
    if (rc != WEFT_OK) {
        pool_free(p);
        return rc;
    }
    *out = p;
    return WEFT_OK;
}

void weft__pool_set_drained(struct weft_pool *p)
{
    /* [PL2] acq_rel: the first caller goes on; release publishes everything
     * the finished tasks did to workers that acquire exiting. */
    if (atomic_exchange_explicit(&p->exiting, 1, memory_order_acq_rel) == 1)
        return;
    /* seq_cst fence: orders the exiting store before reading the parked
     * mask in wake_all, pairing with the parker's fence [PK1]: a worker
     * that set its bit after our scan sees exiting in its final check. */
    weft__fence_seq_cst(p);
    weft__wake_all(p);
    weft__spare_exit_all(p);
    /* [PL2] release: drained last, so a destroy that waits for it never
     * frees the pool while we still scan it. */
    atomic_store_explicit(&p->drained, 1, memory_order_release);
    weft__futex_wake(&p->drained, INT_MAX);
}

bool weft__pool_cancelling(const struct weft_pool *p)
{
    /* relaxed: a flag; the cancel decision is made by the future's CAS. */
    return atomic_load_explicit(&((struct weft_pool *)p)->life, memory_order_relaxed) &
           WEFT_LIFE_CANCEL;
}

int weft__pool_admit(struct weft_pool *p)
{
    /* acquire: pairs with the release store of broken in worker_start. */
    if (weft_unlikely(atomic_load_explicit(&p->broken, memory_order_acquire)) ||
        weft__pool_inherited(p))
        return WEFT_EBROKEN;
    /* [PL1] relaxed RMW: see the Ordering block. */
    uint64_t old = atomic_fetch_add_explicit(&p->life, WEFT_LIFE_ONE, memory_order_relaxed);
    if (weft_unlikely(old & WEFT_LIFE_STOP)) {
        weft__life_sub(p, 1);
        return WEFT_ESHUTDOWN;
    }
    return WEFT_OK;
}

int weft__pool_accept(struct weft_pool *p, struct weft__task *t)
{
    int rc = weft__pool_admit(p);
    if (rc != WEFT_OK)
        return rc;
    struct weft__worker *w = weft__self;
    if (w != NULL && w->pool == p) {
        weft__push_local(w, t, WEFT_DQ_INDEPENDENT);
    } else {
        /* wfcqueue enqueue is an xchg: a full barrier before the notify. */
        weft__inject_push(&p->inj_head, &p->inj_tail, t);
        weft__notify(p);
    }
    return WEFT_OK;
}

/* The pool whose queued tasks this thread is cancelling (their callbacks run
 * here): a blocking shutdown from such a callback would wait for itself. */
static _Thread_local const struct weft_pool *cancelling_here;

/* Cancel the submitted tasks still in the injection queue. Other tasks found
 * there (internal jobs of blocking parallel calls) are queued again. The
 * tasks are moved out under inj_lock and cancelled after it is released,
 * because cancelling runs user callbacks (which may call shutdown again). */
static void cancel_injected(struct weft_pool *p)
{
    struct __cds_wfcq_head drop_head, keep_head;
    struct cds_wfcq_tail drop_tail, keep_tail;
    __cds_wfcq_init(&drop_head, &drop_tail);
    __cds_wfcq_init(&keep_head, &keep_tail);
    /* [WK1] acquire: exclusive dequeue; the holder is a worker moving at most
     * one batch, so yielding until it is done is short. */
    while (atomic_exchange_explicit(&p->inj_lock, 1, memory_order_acquire))
        sched_yield();
    struct weft__task *t;
    while ((t = weft__inject_pop(&p->inj_head, &p->inj_tail)) != NULL) {
        if (weft__task_is_future(t))
            weft__inject_push(&drop_head, &drop_tail, t);
        else
            weft__inject_push(&keep_head, &keep_tail, t);
    }
    __cds_wfcq_splice_blocking(&p->inj_head, &p->inj_tail, &keep_head, &keep_tail);
    /* [WK1] release. */
    atomic_store_explicit(&p->inj_lock, 0, memory_order_release);
    /* A worker that saw the queue empty while we held it may be parking:
     * the jobs put back need a notify like any enqueue. */
    weft__notify(p);
    const struct weft_pool *outer = cancelling_here;
    cancelling_here = p;
    while ((t = weft__inject_pop(&drop_head, &drop_tail)) != NULL) {
        weft__future_task_drop(t);
        weft__life_sub(p, 1);
    }
    cancelling_here = outer;
}

static bool on_own_worker(const struct weft_pool *p)
{
    return weft__self != NULL && weft__self->pool == p;
}

int weft_pool_shutdown(weft_pool *p, unsigned flags)
{
    if (p == NULL || (flags & ~(unsigned)(WEFT_SHUTDOWN_WAIT | WEFT_SHUTDOWN_CANCEL)))
        return WEFT_EINVAL;
    if (weft__pool_inherited(p))
        return WEFT_EBROKEN; /* no worker here to stop or to wait for */
    if ((flags & WEFT_SHUTDOWN_WAIT) && (on_own_worker(p) || cancelling_here == p))
        return WEFT_EDEADLK;
    uint64_t bits = WEFT_LIFE_STOP | ((flags & WEFT_SHUTDOWN_CANCEL) ? WEFT_LIFE_CANCEL : 0);
    /* [PL1] acq_rel: the count we read decides whether we saw the drain. */
    uint64_t old = atomic_fetch_or_explicit(&p->life, bits, memory_order_acq_rel);
    if (old / WEFT_LIFE_ONE == 0)
        weft__pool_set_drained(p);
    if (flags & WEFT_SHUTDOWN_CANCEL)
        cancel_injected(p);
    if (on_own_worker(p))
        weft__worker_flush(weft__self); /* our finished tasks count too */
    if (flags & WEFT_SHUTDOWN_WAIT) {
        /* [PL2] acquire: pairs with weft__pool_set_drained. */
        while (atomic_load_explicit(&p->drained, memory_order_acquire) == 0)
            weft__futex_wait(&p->drained, 0, NULL);
    }
    return WEFT_OK;
}

int weft_pool_destroy(weft_pool *p)
{
    if (p == NULL)
        return WEFT_EINVAL;
    /* The workers' threads are not in this process: there is nothing to
     * join, and their tasks' states are unknown. The memory stays, so the
     * pool's futures keep answering WEFT_EBROKEN. */
    if (weft__pool_inherited(p))
        return WEFT_EBROKEN;
    if (on_own_worker(p) || cancelling_here == p)
        return WEFT_EDEADLK;
    weft_pool_shutdown(p, WEFT_SHUTDOWN_WAIT);
    for (unsigned i = 0; i < p->n; i++)
        pthread_join(p->workers[i].thread, NULL);
    weft__spare_join_all(p);
    pool_free(p);
    return WEFT_OK;
}

unsigned weft_pool_size(const weft_pool *p)
{
    return p ? p->n : 0;
}

int weft_worker_index(void)
{
    return weft__self ? (int)weft__self->index : -1;
}

int weft_pool_stats(const weft_pool *p, weft_worker_stats *out, size_t n)
{
    if (p == NULL || (out == NULL && n != 0))
        return WEFT_EINVAL;
    for (size_t i = 0; i < n && i < p->n; i++)
        out[i] = (weft_worker_stats){0};
    /* Spare k's counts go to entry k mod n (weft.h). acquire [SP2]
     * (spare.c): the slots below live are initialized. */
    unsigned live = atomic_load_explicit(&((struct weft_pool *)p)->live, memory_order_acquire);
    for (unsigned k = 0; k < live; k++) {
        size_t i = k % p->n;
        if (i >= n)
            continue;
        struct weft__worker *w = &p->workers[k];
        /* relaxed: statistics, written by their owner only. */
        out[i].tasks_run += atomic_load_explicit(&w->st_tasks, memory_order_relaxed);
        out[i].steals += atomic_load_explicit(&w->st_steals, memory_order_relaxed);
        out[i].failed_steals += atomic_load_explicit(&w->st_failed_steals, memory_order_relaxed);
        out[i].parks += atomic_load_explicit(&w->st_parks, memory_order_relaxed);
    }
    return (int)p->n;
}
