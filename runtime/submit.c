/* Accepting work and the drain (submit.h).
 *
 * Ordering and invariants
 *   [PL1] life counts accepted, unfinished tasks next to the STOP and CANCEL
 *         bits in one word. accept is one RMW: either it precedes the stop's
 *         fetch_or in the word's modification order (the task is counted and
 *         shutdown waits for it) or it sees STOP and backs out. So a task is
 *         never accepted after the drain was observed. relaxed suffices for
 *         the counting: both sides act on the same location.
 *   [PL2] drained: release store by the thread that saw the count reach 0
 *         with STOP set (after the acq_rel subtraction, [PL3]) -> acquire
 *         load by shutdown waiters. exiting: the same for workers.
 *   [PL3] life: acq_rel subtraction of finished tasks; the release half
 *         publishes the tasks' effects to the thread that sees the pool
 *         drained.
 *   [PL4] Credit. A worker does not write life per task: it keeps a local
 *         credit of counts that are in life but that no task of its needs
 *         any more (tasks it finished) or not yet (a batch it reserved).
 *         Admitting a task on the worker spends one credit, finishing one
 *         adds one, and the credit goes back to life (one RMW) when it
 *         reaches FLUSH_BATCH, when the worker goes idle or exits, and at
 *         the end of a borrow. Since credit is counted in life, the pool
 *         cannot drain while any worker holds some, so a task admitted
 *         with credit is always waited for by shutdown; the admission
 *         checks STOP with a relaxed load only (a submit racing with
 *         shutdown may go either way; one made after shutdown returned,
 *         with happens-before, sees STOP by coherence).
 *   Every accepted task either runs or is cancelled, and only then is it
 *   subtracted from life; workers exit only once life shows STOP and 0. */
#include <limits.h>

#include "futex.h"
#include "park.h"
#include "spare.h"
#include "submit.h"

/* Credit a worker keeps before it gives it back to pool->life [PL4], and
 * the counts it reserves at once when it has none left to admit with. */
#define FLUSH_BATCH 256
#define ADMIT_BATCH 64

/* The pool can take no work at all: broken, or inherited through fork(). */
static bool admit_broken(struct weft_pool *p)
{
    /* acquire: pairs with the release store of broken in loop.c's
     * worker_start. */
    return weft_unlikely(atomic_load_explicit(&p->broken, memory_order_acquire)) ||
           weft__pool_inherited(p);
}

/* Admission of n counts with one RMW on life, on any thread. */
static int admit_shared(struct weft_pool *p, uint64_t n)
{
    /* [PL1] relaxed RMW: see the Ordering block. */
    uint64_t old = atomic_fetch_add_explicit(&p->life, n * WEFT_LIFE_ONE, memory_order_relaxed);
    if (weft_unlikely(old & WEFT_LIFE_STOP)) {
        weft__life_sub(p, n);
        return WEFT_ESHUTDOWN;
    }
    return WEFT_OK;
}

/* Admission on a worker of p [PL4]. */
static int admit_local(struct weft__worker *w)
{
    struct weft_pool *p = w->pool;
    /* relaxed: [PL4], the STOP check of an admission with credit. */
    if (weft_unlikely(atomic_load_explicit(&p->life, memory_order_relaxed) & WEFT_LIFE_STOP))
        return WEFT_ESHUTDOWN;
    if (weft_unlikely(w->credit == 0)) {
        /* As an external admission, for a batch of counts. */
        if (admit_shared(p, ADMIT_BATCH) != WEFT_OK)
            return WEFT_ESHUTDOWN;
        w->credit = ADMIT_BATCH;
    }
    w->credit--;
    return WEFT_OK;
}

int weft__pool_admit_n(struct weft_pool *p, uint64_t n)
{
    return admit_broken(p) ? WEFT_EBROKEN : admit_shared(p, n);
}

int weft__pool_admit(struct weft_pool *p)
{
    if (admit_broken(p))
        return WEFT_EBROKEN;
    struct weft__worker *w = weft__self;
    if (w != NULL && w->pool == p)
        return admit_local(w);
    return admit_shared(p, 1);
}

int weft__pool_accept(struct weft_pool *p, struct weft__task *t)
{
    int rc = weft__pool_admit(p);
    if (rc == WEFT_OK)
        weft__pool_queue(p, t);
    return rc;
}

void weft__pool_queue(struct weft_pool *p, struct weft__task *t)
{
    struct weft__worker *w = weft__self;
    if (w != NULL && w->pool == p) {
        weft__push_local(w, t, WEFT_DQ_INDEPENDENT);
    } else {
        /* The enqueue is an xchg: a full barrier before the notify. */
        weft__inject_push(&p->inj, t);
        weft__notify(p);
    }
}

void weft__push_local(struct weft__worker *w, struct weft__task *t, unsigned flags)
{
    struct weft_pool *p = w->pool;
    if (weft_likely(weft__deque_push(&w->dq, t, flags) == 0)) {
        weft__notify(p);
        return;
    }
    /* The deque could not grow: the injection queue needs no allocation. */
    weft__inject_push(&p->inj, t);
    weft__notify(p);
}

void weft__handoff(struct weft__worker *w, struct weft__task *t)
{
    struct weft_pool *p = w->pool;
    /* The enqueue is an xchg: a full barrier before the notify. */
    weft__inject_push(&p->inj, t);
    weft__notify(p);
}

void weft__life_sub(struct weft_pool *p, uint64_t ntasks)
{
    /* [PL3] acq_rel: see the Ordering block. */
    uint64_t old = atomic_fetch_sub_explicit(&p->life, ntasks * WEFT_LIFE_ONE,
                                             memory_order_acq_rel);
    uint64_t now = old - ntasks * WEFT_LIFE_ONE;
    if ((now & WEFT_LIFE_STOP) && now / WEFT_LIFE_ONE == 0)
        weft__pool_set_drained(p);
}

void weft__worker_flush(struct weft__worker *w)
{
    if (w->credit) {
        weft__life_sub(w->pool, w->credit);
        w->credit = 0;
    }
}

void weft__task_finished(struct weft__worker *w)
{
    if (++w->credit >= FLUSH_BATCH)
        weft__worker_flush(w);
}

bool weft__pool_stop(struct weft_pool *p, bool cancel)
{
    uint64_t bits = WEFT_LIFE_STOP | (cancel ? WEFT_LIFE_CANCEL : 0);
    /* [PL1] acq_rel: the count we read decides whether we saw the drain. */
    uint64_t old = atomic_fetch_or_explicit(&p->life, bits, memory_order_acq_rel);
    if (old / WEFT_LIFE_ONE != 0)
        return false;
    weft__pool_set_drained(p);
    return true;
}

static bool not_droppable(const struct weft__task *t)
{
    return t->ops->drop == NULL;
}

void weft__pool_cancel_queued(struct weft_pool *p)
{
    struct weft__inject drop;
    weft__inject_init(&drop);
    weft__inject_sift(&p->inj, not_droppable, &drop);
    /* A worker that saw the queue empty while sift held it may be parking:
     * the tasks put back need a notify like any enqueue. */
    weft__notify(p);
    struct weft__task *t;
    while ((t = weft__inject_pop_private(&drop)) != NULL)
        weft__life_sub(p, t->ops->drop(t));
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

void weft__pool_await_drained(struct weft_pool *p)
{
    /* [PL2] acquire: pairs with weft__pool_set_drained. */
    while (atomic_load_explicit(&p->drained, memory_order_acquire) == 0)
        weft__futex_wait(&p->drained, 0, NULL);
}

