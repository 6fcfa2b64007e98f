/* A worker thread's loop (loop.h): run own tasks, poll the injection queue,
 * steal, and go idle (park.c). */
#include <signal.h>
#include <stdio.h>

#ifndef WEFT_RECLAIM_RETIRE
#include <urcu/urcu-memb.h>
#endif

#include "loop.h"
#include "park.h"
#include "run.h"
#include "spare.h"
#include "spread.h"
#include "submit.h"
#include "topology.h"

/* Tasks run between polls of the injection queue while the own deque is
 * busy, so external submissions are not starved (Go uses 61 too). */
#define INJECT_POLL_TICKS 61

/* Injected tasks a worker takes at once when its own deque is empty. */
#define INJECT_BATCH 16

/* Independent tasks (futures, root jobs) are flagged on a deque so that no
 * helping wait runs them (task.h). */
static unsigned deque_flags(const struct weft__task *t)
{
    return t->ops->settled != NULL ? WEFT_DQ_INDEPENDENT : 0;
}

/* Take a batch from the injection queue: run the oldest now, and push the
 * others on the (empty) own deque newest first, so that this worker takes
 * them oldest first and they start in the order they were queued, while
 * idle workers may still steal them (from the newest end: parallel starts
 * within one batch). A helping wait in the task run now never reaches
 * them: they lie below its frame. */
static struct weft__task *take_injected(struct weft__worker *w)
{
    struct weft__task *batch[INJECT_BATCH];
    unsigned n = weft__inject_take_many(&w->pool->inj, batch, INJECT_BATCH);
    if (n == 0)
        return NULL;
    for (unsigned i = n - 1; i > 0; i--)
        if (weft__deque_push(&w->dq, batch[i], deque_flags(batch[i])) != 0)
            weft__handoff(w, batch[i]); /* the deque cannot grow */
    if (n > 1)
        weft__notify(w->pool);
    return batch[0];
}

/* The next task for w's loop: its own deque's newest, then injected work.
 * Every INJECT_POLL_TICKS tasks the injection queue goes first, so that
 * external submissions are not starved by a busy deque; not while the
 * deque's newest entry is itself independent (an injected batch is being
 * worked through: taking a newer injected task first would start it out
 * of order). */
static struct weft__task *find_local(struct weft__worker *w)
{
    struct weft__task *t;
    if (++w->tick >= INJECT_POLL_TICKS) {
        w->tick = 0;
        if (weft__deque_peek_flags(&w->dq) != WEFT_DQ_INDEPENDENT &&
            (t = weft__inject_take(&w->pool->inj)) != NULL)
            return t;
    }
    if ((t = weft__deque_take(&w->dq, NULL)) != NULL)
        return t;
    return take_injected(w);
}

static void worker_start(struct weft__worker *w, char *anchor)
{
    struct weft_pool *p = w->pool;
    char name[16];
    snprintf(name, sizeof(name), "%s%u", p->name_prefix, w->index);
    pthread_setname_np(pthread_self(), name);
    weft__self = w;
    if (w->pu >= 0)
        weft__topology_bind_self(w->pu);
    weft__spread_enter(w);
#ifndef WEFT_RECLAIM_RETIRE
    if (p->rcu)
        urcu_memb_register_thread();
#endif
    w->stack_limit = (uintptr_t)anchor - p->stack_size / 2;
    if (p->opts.on_worker_start && p->opts.on_worker_start(w->index, p->opts.hook_ud) != 0) {
        /* release: pairs with the acquire loads of broken in
         * weft__pool_admit and in the future task's run, which then fail
         * with WEFT_EBROKEN. */
        atomic_store_explicit(&p->broken, 1, memory_order_release);
    }
}

static void worker_stop(struct weft__worker *w)
{
    struct weft_pool *p = w->pool;
    weft__unspread(w);
    weft__worker_flush(w);
    if (p->opts.on_worker_stop)
        (void)p->opts.on_worker_stop(w->index, p->opts.hook_ud);
#ifndef WEFT_RECLAIM_RETIRE
    if (p->rcu)
        urcu_memb_unregister_thread();
#endif
    weft__self = NULL;
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
            weft__worker_flush(w);
            if (!weft__spare_park(w))
                break;
            continue;
        }
        struct weft__task *t = find_local(w);
        if (t == NULL) {
            weft__spare_release(w);
            weft__worker_flush(w);
            t = weft__idle(w);
        }
        if (t != NULL)
            weft__run(w, t);
        /* acquire: pairs with the release exchange in
         * weft__pool_set_drained; it is only set once no accepted task is
         * left. */
        else if (atomic_load_explicit(&w->pool->exiting, memory_order_acquire))
            break;
    }
    worker_stop(w);
    return NULL;
}
