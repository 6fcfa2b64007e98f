/* Futures (future.h): the record and its references, the task it runs,
 * submit, queries, waits and cancellation.
 *
 * Ordering and invariants
 *   [FU1] Outcome publication: the completer (the task's worker, a
 *         canceller, or a promise setter) first wins WEFT_ST_CLAIMED (or, for
 *         a running task, is the only possible completer), writes result /
 *         status / error with plain stores, then completes the word with
 *         weft__word_complete (acq_rel exchange, word.c [WD1]). Readers load
 *         the state with acquire before touching the outcome.
 *   [FU2] Callbacks and wait-set links are listener stacks (listeners.c
 *         [LS1]-[LS3]): closed and fired by the completer after the word.
 *         A pusher first sets WEFT_ST_LISTENED in the word unless it is
 *         done (CAS), so the completer's exchange, on the same word, either
 *         returns the bit (it closes the stacks) or made the word done
 *         first (the pusher's CAS fails and it fires its listener itself):
 *         a future nobody listens to completes with one RMW.
 *   [FU3] References: release decrement; the last one fences acquire before
 *         freeing, so all uses by other holders happen before the free.
 *   A single's runtime holds one reference until after completion and the
 *   wake, so the futex word outlives every wake on it. A bulk future's
 *   runner holds its block instead (bulk.c), and the parts a future may
 *   have beyond its 64 bytes (box, listener nodes) go with the block, so
 *   a handle released while the task runs frees nothing it uses; every
 *   other completer (a canceller, a waiter running it) holds a handle.
 *   Phases only move forward: PENDING -> RUNNING -> FINISHED, or
 *   PENDING (-> RUNNING for promises) -> CANCELLED. */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "futex.h"
#include "future.h"
#include "scheduler.h"
#include "slab.h"

_Static_assert(sizeof(struct weft_future) == 64, "a future is 64 bytes");
_Static_assert(sizeof(struct weft__source) == 64, "a source is a line");
_Static_assert(sizeof(struct weft__source) + sizeof(struct weft_future) <= WEFT_SLAB_BLOCK,
               "a single's source and future share a slab block");

static const struct weft__task_ops future_ops;

static inline uint32_t load_state(const weft_future *f)
{
    /* acquire [FU1]: a done phase comes with its outcome. */
    return weft__future_state(f);
}

void weft__source_init(struct weft__source *src, struct weft_pool *pool, uint32_t n)
{
    memset(src, 0, sizeof(*src));
    src->pool = pool;
    src->forks = pool ? pool->forks : 0;
    src->n = n;
}

void weft__future_init(weft_future *f, struct weft__source *src, uint32_t index, uint32_t refs)
{
    /* relaxed (all four): f is not shared yet; queue insertion or the
     * returned handle publishes it. */
    atomic_store_explicit(&f->state, WEFT_PENDING, memory_order_relaxed);
    atomic_store_explicit(&f->refs, refs, memory_order_relaxed);
    atomic_store_explicit(&f->listeners, 0, memory_order_relaxed);
    atomic_store_explicit(&f->watchers, 0, memory_order_relaxed);
    atomic_store_explicit(&f->thief, NULL, memory_order_relaxed);
    f->result = NULL;
    f->status = 0;
    f->index = index;
    f->src = src;
    f->arg = NULL;
}

weft_future *weft__future_new(struct weft_pool *pool, uint32_t refs)
{
    struct weft__slab *slab;
    struct weft__source *src = weft__slab_alloc(&slab);
    if (src == NULL)
        return NULL;
    weft__source_init(src, pool, 1);
    src->slab = slab;
    src->task.ops = pool ? &future_ops : NULL;
    weft_future *f = (weft_future *)(src + 1);
    weft__future_init(f, src, 0, refs);
    return f;
}

static void free_parts(weft_future *f);

/* The last unit of a bulk block went: free the parts of its futures (if
 * any has some), then the block. */
static void block_free(struct weft__source *src, uint64_t old)
{
    if (old & WEFT__LIVE_PARTS)
        for (uint32_t i = 0; i < src->n; i++)
            free_parts(weft__bulk_future(src, i));
    weft__block_free(src);
}

void weft__source_put(struct weft__source *src, uint64_t k)
{
    /* [FU3] for the block: release, then acquire before the free, as for
     * a future's references (TSan: acq_rel on the RMW, it models no fence).
     * The PARTS bit was set by a holder of a unit before it gave it back,
     * so the last subtraction returns it. */
#ifdef WEFT_TSAN
    uint64_t old = atomic_fetch_sub_explicit(weft__bulk_live(src), k, memory_order_acq_rel);
    if ((old & ~WEFT__LIVE_PARTS) == k)
        block_free(src, old);
#else
    uint64_t old = atomic_fetch_sub_explicit(weft__bulk_live(src), k, memory_order_release);
    if ((old & ~WEFT__LIVE_PARTS) == k) {
        /* [FU3] acquire fence: pairs with every other holder's release. */
        atomic_thread_fence(memory_order_acquire);
        block_free(src, old);
    }
#endif
}

/* f is about to get a part beyond its 64 bytes: a bulk block's free must
 * then look at its futures. The caller holds a unit of the block. */
static void note_parts(weft_future *f)
{
    if (!weft__future_in_block(f))
        return; /* a single's or promise's parts go with its last reference */
    /* relaxed (both): a flag read back by the last subtraction, which
     * follows this one in live's modification order (the caller still
     * holds its unit); set once per block. */
    _Atomic uint64_t *live = weft__bulk_live(f->src);
    if (!(atomic_load_explicit(live, memory_order_relaxed) & WEFT__LIVE_PARTS))
        atomic_fetch_or_explicit(live, WEFT__LIVE_PARTS, memory_order_relaxed);
}

struct weft__outcome *weft__future_box(weft_future *f)
{
    /* relaxed: only the outcome's owner sets BOXED, and this is it. */
    if (atomic_load_explicit(&f->state, memory_order_relaxed) & WEFT_ST_BOXED)
        return f->result;
    /* A promise's box is in its source, a task's is made now. */
    struct weft__outcome *o =
        f->src->pool == NULL ? &f->src->box : weft__calloc(1, sizeof(*o));
    if (o == NULL)
        return NULL;
    note_parts(f);
    *o = (struct weft__outcome){.value = f->result};
    weft__future_set_box(f, o);
    return o;
}

void weft__future_set_box(weft_future *f, struct weft__outcome *o)
{
    f->result = o;
    /* relaxed: readers of the outcome acquire the completion, which the
     * owner makes after this (weft__future_complete keeps the bit). */
    atomic_fetch_or_explicit(&f->state, WEFT_ST_BOXED, memory_order_relaxed);
}

/* The outcome's box, once f is done (or by its owner): NULL if unboxed. */
static inline struct weft__outcome *outcome_box(const weft_future *f, uint32_t s)
{
    return (s & WEFT_ST_BOXED) ? f->result : NULL;
}

/* [FU2] Announce a push: false if f is done (the caller fires its
 * listener itself, having acquired the outcome). */
static bool announce_listener(weft_future *f)
{
    /* acquire: a done word read here comes with the outcome [FU1]. */
    uint32_t s = atomic_load_explicit(&f->state, memory_order_acquire);
    if (s & WEFT_ST_LISTENED)
        return true;
    note_parts(f);
    for (;;) {
        if (weft__word_done(s))
            return false;
        /* [FU2] acquire on failure, as the load above (on success the
         * bit only asks the completer to close the stacks, which orders
         * itself, [LS1]; C11 wants success at least as strong). */
        if (atomic_compare_exchange_weak_explicit(&f->state, &s, s | WEFT_ST_LISTENED,
                                                  memory_order_acquire, memory_order_acquire))
            return true;
    }
}

bool weft__future_listen(weft_future *f, struct weft__listener *l)
{
    return announce_listener(f) && weft__lstack_push(&f->listeners, l);
}

bool weft__future_watch(weft_future *f, struct weft__listener *l)
{
    return announce_listener(f) && weft__lstack_push(&f->watchers, l);
}

void weft__future_prune(weft_future *f, bool (*stale)(const struct weft__listener *l))
{
    weft__lstack_prune(&f->watchers, f, stale);
}

/* Watchers first (they only wake waiters), then callbacks in FIFO order. */
void weft__future_complete(weft_future *f, uint32_t final)
{
    /* relaxed: the caller owns the outcome, so a BOXED bit is its own. */
    final |= atomic_load_explicit(&f->state, memory_order_relaxed) & WEFT_ST_BOXED;
    /* [FU2] nobody announced a listener: the stacks stay empty for good. */
    if (!(weft__word_complete(&f->state, final) & WEFT_ST_LISTENED))
        return;
    weft__lstack_close_fire(&f->watchers, f, false);
    weft__lstack_close_fire(&f->listeners, f, true);
}

bool weft__future_claim(weft_future *f, uint32_t allow_mask)
{
    /* relaxed: the CAS validates; acquire on success is not needed because
     * the claimer only writes the outcome fields. */
    uint32_t s = atomic_load_explicit(&f->state, memory_order_relaxed);
    for (;;) {
        if ((s & WEFT_ST_CLAIMED) || !(allow_mask & (1u << (s & WEFT_ST_PHASE))))
            return false;
        if (atomic_compare_exchange_weak_explicit(&f->state, &s, s | WEFT_ST_CLAIMED,
                                                  memory_order_relaxed, memory_order_relaxed))
            return true;
    }
}

static void cancel_claimed(weft_future *f)
{
    weft__future_complete(f, WEFT_CANCELLED);
}

/* ---- references ---- */

/* Free what f holds beyond its 64 bytes: listener nodes left (a future
 * freed pending), its box and what the box owns. */
static void free_parts(weft_future *f)
{
    weft__lstack_discard(&f->watchers);
    weft__lstack_discard(&f->listeners);
    /* relaxed: the last reference's acquire [FU3] ordered every write. */
    struct weft__outcome *o =
        outcome_box(f, atomic_load_explicit(&f->state, memory_order_relaxed));
    if (o != NULL) {
        if (o->value_dtor)
            o->value_dtor(o->value);
        if (o->error_dtor)
            o->error_dtor(o->error);
        if (o != &f->src->box)
            free(o);
    }
}

/* f's last reference went. Returns the block unit a bulk future gives
 * back (1), which the caller puts: its parts go with the block. A
 * single's or promise's parts and block are freed here (0). */
static uint64_t future_free_parts(weft_future *f)
{
    if (weft__future_in_block(f))
        return 1;
    struct weft__source *src = f->src;
    free_parts(f);
    weft__slab_retire(src->slab, src);
    return 0;
}

static void future_free(weft_future *f)
{
    struct weft__source *src = f->src;
    if (future_free_parts(f))
        weft__source_put(src, 1);
}

/* Debug builds (no NDEBUG) stop the process when a release, ref or wait
 * finds the future already freed (weft.h's conventions). A holder's
 * reference keeps refs >= 1, and refs stays 0 once the last one went:
 * weft__slab_retire keeps the freed block readable and unused while it is
 * in the releasing thread's quarantine (slab.h), so the check reads live
 * memory (past the quarantine it cannot tell). It steps over ASan's poison
 * on the block so that the message is this check's. A release or ref that
 * raced with the last release sees 0 returned by its own RMW instead.
 * Release builds check nothing. */
#ifndef NDEBUG
__attribute__((noinline, no_sanitize_address)) void weft__future_check_held(const weft_future *f,
                                                                          const char *call)
{
    (void)call;
    /* relaxed: a diagnostic read of a count the caller must hold a part of. */
    if (weft_unlikely(atomic_load_explicit(&((weft_future *)f)->refs, memory_order_relaxed) == 0))
        WEFT_DEBUG_FAIL("the future was already freed (released once too often)");
}
#define CHECK_OLD_REFS(old, call)                                                   \
    do {                                                                            \
        if (weft_unlikely((old) == 0))                                              \
            WEFT_DEBUG_FAIL(call ": the future was already freed (released once too often)"); \
    } while (0)
#else
#define CHECK_OLD_REFS(old, call) ((void)(old))
#endif

weft_future *weft_future_ref(weft_future *f)
{
    if (f != NULL) {
        WEFT__CHECK_HELD(f, "weft_future_ref");
        /* relaxed: taking a reference needs no ordering; the caller already
         * holds one (usual refcount rule). */
        uint32_t old = atomic_fetch_add_explicit(&f->refs, 1, memory_order_relaxed);
        CHECK_OLD_REFS(old, "weft_future_ref");
    }
    return f;
}

/* Drop one reference; true if it was the last (then f is the caller's to
 * free). */
static bool unref(weft_future *f)
{
#ifdef WEFT_TSAN
    /* [FU3] TSan does not model fences: acq_rel on the decrement instead. */
    uint32_t old = atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel);
    CHECK_OLD_REFS(old, "weft_future_release");
    return old == 1;
#else
    /* [FU3] release: our uses of f happen before the free. */
    uint32_t old = atomic_fetch_sub_explicit(&f->refs, 1, memory_order_release);
    CHECK_OLD_REFS(old, "weft_future_release");
    if (old != 1)
        return false;
    /* [FU3] acquire fence: pairs with every other holder's release. */
    atomic_thread_fence(memory_order_acquire);
    return true;
#endif
}

void weft_future_release(weft_future *f)
{
    if (f == NULL)
        return;
    WEFT__CHECK_HELD(f, "weft_future_release");
    if (unref(f))
        future_free(f);
}

/* Drop one reference of f, freeing it if it was the last; returns the
 * block units to give back (future_free_parts). */
static uint64_t future_unref(weft_future *f)
{
    return unref(f) ? future_free_parts(f) : 0;
}

void weft_futures_release(weft_future *const *fs, size_t n)
{
    if (fs == NULL)
        return;
    /* Consecutive futures of one bulk block give their units back with
     * one RMW on the block's count. */
    struct weft__source *src = NULL;
    uint64_t units = 0;
    for (size_t i = 0; i < n; i++) {
        weft_future *f = fs[i];
        if (f == NULL)
            continue;
        WEFT__CHECK_HELD(f, "weft_futures_release");
        if (f->src != src) {
            if (units)
                weft__source_put(src, units);
            src = f->src;
            units = 0;
        }
        units += future_unref(f);
    }
    if (units)
        weft__source_put(src, units);
}

/* ---- tasks ---- */

void weft__future_drop_arg(weft_future *f)
{
    /* relaxed: the bit was set by a CAS this thread observed, or by a
     * starter whose completion this thread acquired. */
    weft_dtor arg_dtor = f->src->arg_dtor;
    if (arg_dtor && !(atomic_load_explicit(&f->state, memory_order_relaxed) & WEFT_ST_STARTED))
        arg_dtor(f->arg);
}

void weft__future_fail_claimed(weft_future *f, int status)
{
    f->status = status;
    weft__future_complete(f, WEFT_FINISHED | WEFT_ST_FAILED);
}

bool weft__future_start_run(weft_future *f, struct weft__worker *w)
{
    /* relaxed: the CAS validates; the task's inputs were published by the
     * queue (deque [DQ1] / wfcqueue) or by submit on this thread. */
    uint32_t s = atomic_load_explicit(&f->state, memory_order_relaxed);
    for (;;) {
        if ((s & WEFT_ST_PHASE) != WEFT_PENDING || (s & WEFT_ST_CLAIMED))
            return false;
        /* relaxed: starting publishes nothing; keeps WAITERS/CANCEL_REQ. */
        if (atomic_compare_exchange_weak_explicit(&f->state, &s,
                                                  (s & ~WEFT_ST_PHASE) | WEFT_RUNNING |
                                                      WEFT_ST_STARTED,
                                                  memory_order_relaxed, memory_order_relaxed))
            break;
    }
    /* Named only by the worker that started f: one that lost the start to
     * a waiter running f inline (weft__future_try_run) goes back to other
     * work, which f's waiters must not leapfrog into. Never for a bulk
     * block's future: its runner's deque may hold halves of the block,
     * whose futures are independent tasks a helping wait must not run
     * (bulk.c). */
    if (!weft__future_in_block(f))
        weft__leap_hint_set(&f->thief, w); /* waiters leapfrog onto w (wait.h) */
    const struct weft__source *src = f->src;
    weft_future *outer = weft__ctx_swap(w, f);
    void *result = NULL;
    int status = src->fn(&w->ctx, f->arg, &result);
    weft__ctx_swap(w, outer);
    if (status != 0)
        status = weft__task_status_of(status);
    /* The task is over: its argument goes now (the starter owns it). */
    if (src->arg_dtor)
        src->arg_dtor(f->arg);
    /* relaxed: BOXED is only ever set by this thread, the task's. */
    struct weft__outcome *o = outcome_box(f, atomic_load_explicit(&f->state, memory_order_relaxed));
    if (o != NULL)
        o->value = result;
    else
        f->result = result;
    f->status = status;
    /* STARTED stays set: weft__future_drop_arg reads it after completion. */
    weft__future_complete(f, WEFT_FINISHED | WEFT_ST_STARTED | (status != 0 ? WEFT_ST_FAILED : 0));
    return true;
}

/* A single's future, from its queued record. */
static inline weft_future *single_of(const struct weft__task *t)
{
    struct weft__source *src = weft_container_of(t, struct weft__source, task);
    return (weft_future *)(src + 1);
}

/* The queue is done with f: a canceller that claimed f may still be
 * completing it (CLAIMED while PENDING), and the pool must not count f as
 * finished before it is. A task RUNNING here is run by a waiting worker
 * (run_awaited), maybe this one further down the stack: never wait for
 * that. Then a task that never started gives up its argument (a started
 * one freed it in weft__future_start_run). */
static void settle_queued(weft_future *f)
{
    uint32_t s = load_state(f);
    if ((s & WEFT_ST_CLAIMED) && (s & WEFT_ST_PHASE) == WEFT_PENDING)
        weft__word_wait(&f->state, NULL);
    weft__future_drop_arg(f);
}

void weft__future_run_queued(weft_future *f, struct weft__worker *w)
{
    struct weft_pool *p = f->src->pool;
    /* acquire: pairs with the release store of broken in loop.c's
     * worker_start. */
    if (weft_unlikely(atomic_load_explicit(&p->broken, memory_order_acquire))) {
        if (weft__future_claim(f, WEFT__ALLOW(WEFT_PENDING)))
            weft__future_fail_claimed(f, WEFT_EBROKEN);
    } else if (weft_unlikely(weft__pool_cancelling(p))) {
        if (weft__future_claim(f, WEFT__ALLOW(WEFT_PENDING)))
            cancel_claimed(f);
    } else if (weft__future_start_run(f, w)) {
        return; /* it ran, and its argument went with it */
    }
    settle_queued(f);
}

void weft__future_cancel_queued(weft_future *f)
{
    if (weft__future_claim(f, WEFT__ALLOW(WEFT_PENDING)))
        cancel_claimed(f);
    settle_queued(f);
}

static void future_run(struct weft__task *t, struct weft__worker *w)
{
    weft_future *f = single_of(t);
    weft__future_run_queued(f, w);
    weft_future_release(f); /* the runtime's reference */
    weft__task_finished(w);
}

bool weft__future_try_run(weft_future *f, struct weft__worker *w)
{
    struct weft_pool *p = f->src->pool;
    /* acquire: pairs with the release store of broken in loop.c's
     * worker_start. */
    if (p == NULL || p != w->pool || atomic_load_explicit(&p->broken, memory_order_acquire) ||
        weft__pool_cancelling(p))
        return false;
    struct weft__frame saved;
    weft__frame_enter(w, &saved);
    bool ran = weft__future_start_run(f, w);
    weft__frame_leave(w, &saved);
    return ran;
}

static bool run_awaited(void *arg, struct weft__worker *w)
{
    return weft__future_try_run(arg, w);
}

/* The needed test of weft__borrow_begin_if ([BR4]: its acquire load). */
static bool awaited_unstarted(void *arg, const struct weft_pool *p)
{
    (void)p;
    return weft__future_unstarted(arg);
}

/* The queued record only needs disposing once the task started (a waiter
 * ran it inline) or was claimed or cancelled (task.h). relaxed: a hint;
 * future_run decides with its own CAS. */
static bool future_settled(const struct weft__task *t)
{
    weft_future *f = single_of(t);
    uint32_t s = atomic_load_explicit(&f->state, memory_order_relaxed);
    return (s & WEFT_ST_PHASE) != WEFT_PENDING;
}

static uint64_t future_drop(struct weft__task *t)
{
    weft_future *f = single_of(t);
    weft__future_cancel_queued(f);
    weft_future_release(f); /* the runtime's reference */
    return 1;
}

int weft_submit(weft_pool *pool, weft_fn fn, void *arg, weft_dtor arg_dtor, weft_future **out)
{
    if (pool == NULL || fn == NULL) {
        if (arg_dtor)
            arg_dtor(arg);
        return WEFT_EINVAL;
    }
    weft_future *f = weft__future_new(pool, out ? 2 : 1);
    if (f == NULL) {
        if (arg_dtor)
            arg_dtor(arg);
        return WEFT_ENOMEM;
    }
    struct weft__source *src = f->src;
    src->fn = fn;
    src->arg_dtor = arg_dtor;
    f->arg = arg;
    int rc = weft__pool_accept(pool, &src->task);
    if (rc != WEFT_OK) {
        if (arg_dtor)
            arg_dtor(arg);
        weft__slab_free(src->slab, src);
        return rc;
    }
    if (out)
        *out = f;
    return WEFT_OK;
}

/* ---- queries and waits ---- */

int weft_future_state(const weft_future *f)
{
    if (f == NULL)
        return WEFT_EINVAL;
    return (int)(load_state(f) & WEFT_ST_PHASE);
}

bool weft_future_done(const weft_future *f)
{
    return f != NULL && weft__word_done(load_state(f));
}

bool weft_future_running(const weft_future *f)
{
    return f != NULL && (load_state(f) & WEFT_ST_PHASE) == WEFT_RUNNING;
}

bool weft_future_cancelled(const weft_future *f)
{
    return f != NULL && (load_state(f) & WEFT_ST_PHASE) == WEFT_CANCELLED;
}

static bool future_stranded(const weft_future *f)
{
    /* Done first: a wait on a done future then costs only that load. The
     * pool is never read: a waiter may get here just as the task completes
     * and another thread destroys the pool. */
    return !weft__word_done(load_state(f)) && weft__future_inherited(f);
}

bool weft__future_inherited(const weft_future *f)
{
    return f->src->pool != NULL && f->src->forks != weft__fork_count();
}

int weft__future_wait(weft_future *f, const struct timespec *deadline)
{
    if (future_stranded(f))
        return WEFT_EBROKEN;
    /* A promise has no task to run; a timed wait runs none (it would
     * stretch its deadline by the task's length): both only block. An
     * untimed one runs the task itself if it has not started, on a worker
     * or, from another thread, in a parked worker's place (wait.h). */
    if (f->src->pool == NULL)
        return weft__word_wait(&f->state, deadline);
    /* pool NULL: no borrowed place (weft__future_unstarted says why). */
    struct weft_pool *borrow = weft__future_in_block(f) ? NULL : f->src->pool;
    struct weft__help h = {
        .runner = {.run = run_awaited, .ready = awaited_unstarted, .pool = borrow, .arg = f},
        .leap = weft__future_leap(f)};
    if (deadline != NULL)
        return weft__word_wait_fallback(&f->state, deadline, &h);
    return weft__word_wait_help(&f->state, &h);
}

int weft_future_wait(weft_future *f, int64_t timeout_ns)
{
    if (f == NULL)
        return WEFT_EINVAL;
    WEFT__CHECK_HELD(f, "weft_future_wait");
    struct timespec dl;
    if (timeout_ns == 0)
        return weft_future_done(f) ? WEFT_OK : WEFT_ETIMEDOUT;
    return weft__future_wait(f, weft__deadline_in(&dl, timeout_ns) ? &dl : NULL);
}

int weft_future_wait_until(weft_future *f, const struct timespec *deadline)
{
    int passed = weft__deadline_check(deadline);
    if (f == NULL || passed < 0)
        return WEFT_EINVAL;
    WEFT__CHECK_HELD(f, "weft_future_wait_until");
    /* At or before now (a negative tv_sec too): a poll, as timeout 0. */
    if (passed)
        return weft_future_wait(f, 0);
    return weft__future_wait(f, deadline);
}

/* f (finished with state s, nonzero status) failed in the library, not in
 * its task: a task future that finished without its function ever starting
 * was failed by the pool (weft__future_fail_claimed: WEFT_EBROKEN). Promises (no pool)
 * fail only through weft_promise_set_error, a user's status. */
static bool library_failure(const weft_future *f, uint32_t s)
{
    return f->src->pool != NULL && !(s & WEFT_ST_STARTED);
}

int weft_future_result(weft_future *f, int64_t timeout_ns, void **value)
{
    if (f == NULL)
        return WEFT_EINVAL;
    WEFT__CHECK_HELD(f, "weft_future_result");
    /* A done future costs this one load (acquire [FU1]); else wait. */
    uint32_t s = load_state(f);
    if (!weft__word_done(s)) {
        int rc = weft_future_wait(f, timeout_ns);
        if (rc != WEFT_OK)
            return rc;
        s = load_state(f);
    }
    if ((s & WEFT_ST_PHASE) == WEFT_CANCELLED)
        return WEFT_ECANCELED;
    if (f->status != 0)
        return library_failure(f, s) ? f->status : weft__task_failed(f->status);
    if (value) {
        const struct weft__outcome *o = outcome_box(f, s);
        *value = o != NULL ? o->value : f->result;
    }
    return WEFT_OK;
}

void *weft_future_error(const weft_future *f)
{
    if (f == NULL)
        return NULL;
    uint32_t s = load_state(f);
    const struct weft__outcome *o = outcome_box(f, s);
    return (s & WEFT_ST_PHASE) == WEFT_FINISHED && o != NULL ? o->error : NULL;
}

int weft_future_task_status(const weft_future *f)
{
    if (f == NULL)
        return 0;
    uint32_t s = load_state(f);
    if ((s & WEFT_ST_PHASE) != WEFT_FINISHED || library_failure(f, s))
        return 0;
    return f->status;
}

/* ---- cancellation ---- */

int weft_future_cancel(weft_future *f)
{
    if (f == NULL)
        return WEFT_EINVAL;
    if (weft__future_claim(f, WEFT__ALLOW(WEFT_PENDING))) {
        /* Our own reference across the callbacks: one of them may release
         * the caller's handle while the worker disposes of the record. */
        weft_future_ref(f);
        cancel_claimed(f);
        weft_future_release(f);
        return 1;
    }
    /* One load decides (two could straddle a concurrent canceller's
     * completion: CLAIMED in neither, CANCELLED only in the second). */
    uint32_t s = load_state(f);
    if ((s & WEFT_ST_CLAIMED) && !weft__word_done(s)) {
        /* Another thread is completing it right now (a concurrent cancel,
         * or a promise being set): its outcome is imminent, so report it. */
        weft__word_wait(&f->state, NULL);
        s = load_state(f);
    }
    return (s & WEFT_ST_PHASE) == WEFT_CANCELLED;
}

int weft_future_request_cancel(weft_future *f)
{
    if (f == NULL)
        return WEFT_EINVAL;
    if (weft_future_cancel(f) == 1)
        return WEFT_OK;
    /* relaxed: a flag the task polls; no data is published with it. */
    atomic_fetch_or_explicit(&f->state, WEFT_ST_CANCEL_REQ, memory_order_relaxed);
    return WEFT_OK;
}

static const struct weft__task_ops future_ops = {
    .run = future_run, .drop = future_drop, .settled = future_settled};
