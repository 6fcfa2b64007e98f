/* A worker slot's life cycle: setup, queues, victim lists and thread start
 * (worker.h). Everything here runs before the slot's thread does, or after
 * it ended. */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "alloc.h"
#include "topology.h"
#include "worker.h"

/* Initial deque slots per worker (it grows). */
#define DEQUE_INIT_CAP 256
/* Smallest spawn stack a worker starts with when the system refuses
 * WEFT_SPAWN_MAX slots of address space. */
#define LAZY_MIN_SLOTS 4096u

_Thread_local struct weft__worker *weft__self __attribute__((tls_model("initial-exec")));
_Static_assert(offsetof(struct weft__lazy, steal_req) % WEFT_CACHE_LINE == 0,
               "steal_req must start a line pair of its own (weft.h)");
_Static_assert(offsetof(struct weft_ctx, lazy) == 0, "weft.h takes a ctx for its spawn stack");

void weft__worker_setup(struct weft_pool *p, struct weft__worker *w, unsigned index, int pu)
{
    w->pool = p;
    w->index = index;
    w->pu = pu;
    w->counted_cpu = -1;
    w->spare_rank = index < p->n ? WEFT__NOT_SPARE : index - p->n;
    w->rng = 0x9E3779B97F4A7C15ull * (index + 1) ^ (uint64_t)(uintptr_t)p;
    w->ctx.worker = w;
}

/* Reserve a spawn stack: WEFT_SPAWN_MAX slots of address space, fewer if
 * the system refuses. The pages are touched as the stack grows; fresh
 * pages are zero, so every slot starts free (ops NULL, lazy.h). */
static int spawn_stack_init(struct weft__lazy *l)
{
    for (size_t n = WEFT_SPAWN_MAX; n >= LAZY_MIN_SLOTS; n /= 2) {
        void *p = mmap(NULL, n * sizeof(struct weft__slot), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p != MAP_FAILED) {
            l->slots = l->top = l->base = l->split = p;
            l->end = l->slots + n - 1; /* the last: a failed spawn's */
            /* NULL: the first spawn takes the slow path, which puts the
             * bound in place and answers any request. A thief may ask
             * (steal.c stores NULL here too) while a spare slot is still
             * being set up, so this store is an atomic one. relaxed: a
             * hint ([LZ1]). */
            __atomic_store_n(&l->bound, NULL, __ATOMIC_RELAXED);
            return 0;
        }
    }
    return -ENOMEM;
}

int weft__worker_queues_init(struct weft__worker *w)
{
    if (weft__deque_init(&w->dq, DEQUE_INIT_CAP, w->pool->rcu) != 0)
        return -ENOMEM;
    if (spawn_stack_init(&w->ctx.lazy) != 0) {
        weft__deque_fini(&w->dq);
        return -ENOMEM;
    }
    return 0;
}

void weft__worker_queues_fini(struct weft__worker *w)
{
    weft__deque_fini(&w->dq);
    struct weft__lazy *l = &w->ctx.lazy;
    if (l->slots != NULL)
        munmap(l->slots, (size_t)(l->end + 1 - l->slots) * sizeof(struct weft__slot));
    l->slots = l->top = l->base = l->end = l->bound = NULL;
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
