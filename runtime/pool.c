/* The pool's API: options, create, shutdown, destroy, statistics. It
 * builds the scheduler (worker slots, parking, spares) and asks it to stop
 * and drain (submit.c holds the count of accepted work and its ordering). */
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "borrow.h"
#include "env.h"
#include "group.h"
#include "loop.h"
#include "park.h"
#include "spare.h"
#include "spread.h"
#include "submit.h"
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
    weft__env_defaults(o);
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
    weft__spread_fini(p);
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
        rc = weft__workers_place(p, pus);
    free(pus);
    return rc == 0 ? WEFT_OK : WEFT_ENOMEM;
}

static int start_workers(struct weft_pool *p)
{
    unsigned started = 0;
    for (; started < p->n; started++)
        if (weft__worker_thread_start(&p->workers[started]) != 0)
            break;
    if (started == p->n)
        return WEFT_OK;
    /* Stop the ones that started: nothing was accepted yet, so the stop
     * drains the pool at once. */
    weft__pool_stop(p, false);
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
    p->thread_main = weft__worker_main;
    p->batch_ops = &weft__batch_ops;
    p->ncpus = weft__topology_cpus();
    p->n = o.workers ? o.workers : p->ncpus;
    if (p->n > WEFT_MAX_WORKERS)
        p->n = WEFT_MAX_WORKERS;
    p->nslots = p->n + weft__spare_slots(p->n);
    p->stack_size = o.stack_size ? o.stack_size : DEFAULT_STACK;
    if (p->stack_size < (size_t)PTHREAD_STACK_MIN)
        p->stack_size = PTHREAD_STACK_MIN;
    snprintf(p->name_prefix, sizeof(p->name_prefix), "%s", o.name_prefix ? o.name_prefix : "weft-");
    p->opts.name_prefix = NULL; /* not owned; the copy above is used */
    weft__inject_init(&p->inj);
    weft__fork_watch();
    p->forks = weft__fork_count();
#ifndef WEFT_RECLAIM_RETIRE
    /* In a forked child a reader may be frozen inside a read-side section
     * (its thread stayed in the parent), so a grace period might never end:
     * this pool keeps its old deque buffers on the retire list instead
     * (fork.h). */
    p->rcu = p->forks == 0;
#endif
    int rc = weft__park_init(p) == 0 && weft__spread_init(p) == 0 ? init_workers(p) : WEFT_ENOMEM;
    if (rc == WEFT_OK)
        rc = start_workers(p);
    if (rc != WEFT_OK) {
        pool_free(p);
        return rc;
    }
    *out = p;
    return WEFT_OK;
}

/* The pool whose queued tasks this thread is cancelling (their callbacks run
 * here): a blocking shutdown from such a callback would wait for itself. */
static _Thread_local const struct weft_pool *cancelling_here;

/* Cancel the submitted tasks still in the injection queue; their
 * callbacks run here, and may call shutdown again. */
static void cancel_injected(struct weft_pool *p)
{
    const struct weft_pool *outer = cancelling_here;
    cancelling_here = p;
    weft__pool_cancel_queued(p);
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
    weft__pool_stop(p, flags & WEFT_SHUTDOWN_CANCEL);
    if (flags & WEFT_SHUTDOWN_CANCEL)
        cancel_injected(p);
    if (on_own_worker(p))
        weft__worker_flush(weft__self); /* our finished tasks count too */
    if (flags & WEFT_SHUTDOWN_WAIT)
        weft__pool_await_drained(p);
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
    /* A waiter on one of p's futures may still be checking whether to
     * borrow a worker of p (borrow.c [BR4]). */
    weft__borrow_quiesce(p);
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
