/* Stealing (steal.h).
 *
 * Stealing runs inside a liburcu-memb read-side section when the pool frees
 * old deque buffers after grace periods (pool->rcu): a victim's old buffer
 * is not freed while we may read it. */
#ifndef WEFT_RECLAIM_RETIRE
#include <urcu/urcu-memb.h>
#endif

#include "steal.h"
#include "topology.h"

static inline uint64_t rng_next(struct weft__worker *w)
{
    uint64_t x = w->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return w->rng = x;
}

/* Ask v to publish its private children. relaxed: a hint, loaded first so
 * an existing request costs no line transfer. Then lower v's spawn bound,
 * so that its next spawn takes the slow path and answers. [LZ1] seq_cst
 * fence: pairs with the owner's in weft__lazy_asked (lazy.c): either the
 * owner sees the request, or its restoring store of bound comes before our
 * NULL in bound's order, so a later spawn sees NULL. */
static void ask_owner(struct weft__worker *w, struct weft__worker *v)
{
    if (!weft__steal_requested(&v->ctx.lazy)) {
        weft__steal_req_set(v, 1);
        weft__fence_seq_cst(w->pool);
        __atomic_store_n(&v->ctx.lazy.bound, NULL, __ATOMIC_RELAXED);
    }
}

void weft__steal_ask_all(struct weft__worker *w)
{
    struct weft_pool *p = w->pool;
    /* acquire [SP2] (spare.c): the slots below live are initialized. */
    unsigned live = atomic_load_explicit(&p->live, memory_order_acquire);
    for (unsigned k = 0; k < live; k++)
        if (k != w->index)
            ask_owner(w, &p->workers[k]);
}

/* Steal from v. ask: if v's deque is empty, ask v to publish its private
 * children. Searching thieves and leapfrogging waits ask at every look; a
 * worker that may not search asks on its last look before it parks only
 * (park.c, search), so that an idle pool's sweeps write few victims'
 * lines, yet no worker parks without having asked for the private work
 * it could run. */
static struct weft__task *steal_from(struct weft__worker *w, struct weft__worker *v,
                                     bool dependent_only, bool ask)
{
    struct weft__task *t;
    for (int attempt = 0; attempt < 4; attempt++) {
        /* Two loads first: an empty victim (most of them, in a sweep of an
         * idle pool) costs no fence. A stale "empty" is caught by the
         * parking protocol's fenced final check (park.c [PK1]). */
        int r = weft__deque_nonempty(&v->dq) ? weft__deque_steal(&v->dq, &t, dependent_only)
                                               : WEFT_STEAL_EMPTY;
        if (r == WEFT_STEAL_OK) {
            weft__stat_inc(&w->st_steals);
            return t;
        }
        if (r == WEFT_STEAL_EMPTY) {
            if (!ask)
                break;
            ask_owner(w, v);
            break;
        }
        if (r == WEFT_STEAL_SKIP)
            break;
    }
    return NULL;
}

/* Steal from the slots [from, to), other than w, starting at a random
 * one. */
static struct weft__task *sweep_range(struct weft__worker *w, unsigned from, unsigned to,
                                      bool ask)
{
    struct weft_pool *p = w->pool;
    unsigned len = to - from;
    unsigned off = len ? (unsigned)(rng_next(w) % len) : 0;
    for (unsigned i = 0; i < len; i++) {
        unsigned k = from + (off + i) % len;
        if (k == w->index)
            continue;
        struct weft__task *t = steal_from(w, &p->workers[k], false, ask);
        if (t)
            return t;
    }
    return NULL;
}

/* Spares (spare.h) have no victim list: they scan the workers flat. Every
 * thief then scans the spare slots [n, live) that have run: their deques
 * may hold work whether or not the spare is needed now. */
static struct weft__task *sweep_spares(struct weft__worker *w, bool ask)
{
    struct weft_pool *p = w->pool;
    struct weft__task *t = NULL;
    if (w->spare_rank != WEFT__NOT_SPARE)
        t = sweep_range(w, 0, p->n, ask);
    /* acquire [SP2] (spare.c): the slots below live are initialized. */
    unsigned live = atomic_load_explicit(&p->live, memory_order_acquire);
    return t != NULL ? t : sweep_range(w, p->n, live, ask);
}

static struct weft__task *sweep(struct weft__worker *w, bool ask)
{
    struct weft_pool *p = w->pool;
    struct weft__tier in = {w->order_pos, w->order_pos + 1};
    for (unsigned k = 0; k < w->ntiers; k++) {
        unsigned len = weft__tier_len(w->tiers[k], in);
        unsigned off = (unsigned)(rng_next(w) % len);
        for (unsigned i = 0; i < len; i++) {
            unsigned v = weft__tier_victim(p->steal_order, w->tiers[k], in, (off + i) % len);
            struct weft__task *t = steal_from(w, &p->workers[v], false, ask);
            if (t)
                return t;
        }
        in = w->tiers[k];
    }
    return sweep_spares(w, ask);
}

/* Steal from v (asking it to publish), or from any victim when v is NULL. Stealing reads victims'
 * deque buffers, which a growing push may retire concurrently: freed after
 * a grace period, that needs a read-side section. Pools that keep old
 * buffers until the end (pool->rcu false) need none. */
static struct weft__task *steal_guarded(struct weft__worker *w, struct weft__worker *v,
                                        bool ask)
{
#ifndef WEFT_RECLAIM_RETIRE
    bool rcu = w->pool->rcu;
    if (rcu)
        urcu_memb_read_lock();
#endif
    struct weft__task *t = v != NULL ? steal_from(w, v, true, true) : sweep(w, ask);
#ifndef WEFT_RECLAIM_RETIRE
    if (rcu)
        urcu_memb_read_unlock();
#endif
    return t;
}

struct weft__task *weft__steal_any(struct weft__worker *w, bool ask)
{
    /* relaxed: a hint; a pool of one worker without spares has no victim. */
    if (w->pool->n < 2 && atomic_load_explicit(&w->pool->live, memory_order_relaxed) < 2)
        return NULL;
    struct weft__task *t = steal_guarded(w, NULL, ask);
    if (t == NULL)
        weft__stat_inc(&w->st_failed_steals);
    return t;
}

struct weft__task *weft__steal_dependent(struct weft__worker *w, struct weft__worker *v)
{
    return steal_guarded(w, v, true);
}
