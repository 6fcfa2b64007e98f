/* A worker slot's life cycle: setup, queues, victim lists and thread start
 * (worker.h). Everything here runs before the slot's thread does, or after
 * it ended. */
#include <errno.h>
#include <stdlib.h>

#include "alloc.h"
#include "topology.h"
#include "worker.h"

/* Initial deque and private spawn stack slots per worker (both grow). */
#define DEQUE_INIT_CAP 256
#define LAZY_INIT_CAP 256

_Thread_local struct weft__worker *weft__self __attribute__((tls_model("initial-exec")));
__thread struct weft__lazy *weft__tls_lazy __attribute__((tls_model("initial-exec")));
_Static_assert(offsetof(struct weft__lazy, steal_req) % WEFT_CACHE_LINE == 0,
               "steal_req must start a line pair of its own (weft.h)");

void weft__worker_setup(struct weft_pool *p, struct weft__worker *w, unsigned index, int pu)
{
    w->pool = p;
    w->index = index;
    w->pu = pu;
    w->counted_cpu = -1;
    w->spare_rank = index < p->n ? WEFT__NOT_SPARE : index - p->n;
    w->rng = 0x9E3779B97F4A7C15ull * (index + 1) ^ (uint64_t)(uintptr_t)p;
    w->child_ctx = (struct weft_ctx){.head = {.lazy = &w->lazy}, .worker = w};
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
    int rc = weft__thread_create(&w->thread, &attr, w->pool->thread_main, w);
    pthread_attr_destroy(&attr);
    return rc == 0 ? 0 : -EAGAIN;
}

int weft__workers_place(struct weft_pool *p, const int *pus)
{
    size_t stride = weft__topology_stride(p->opts.pin);
    unsigned *ntiers = weft__malloc(sizeof(*ntiers) * p->n);
    p->steal_order = weft__malloc(sizeof(*p->steal_order) * p->n);
    p->steal_tiers = weft__malloc(sizeof(*p->steal_tiers) * p->n * stride);
    int rc = -ENOMEM;
    if (ntiers != NULL && p->steal_order != NULL && p->steal_tiers != NULL)
        rc = weft__topology_victims(p->opts.pin, p->n, pus, p->steal_order, p->steal_tiers,
                                    stride, ntiers);
    for (unsigned k = 0; k < p->n && rc == 0; k++) {
        struct weft__worker *w = &p->workers[p->steal_order[k]];
        w->order_pos = k;
        w->tiers = p->steal_tiers + k * stride;
        w->ntiers = ntiers[k];
    }
    free(ntiers);
    return rc;
}
