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
 *   [FU3] References: release decrement; the last one fences acquire before
 *         freeing, so all uses by other holders happen before the free.
 *   The runtime holds one reference until after completion and the wake,
 *   so the futex word outlives every wake on it.
 *   Phases only move forward: PENDING -> RUNNING -> FINISHED, or
 *   PENDING (-> RUNNING for promises) -> CANCELLED. */
#include <stdlib.h>
#include <string.h>

#include "futex.h"
#include "future.h"
#include "scheduler.h"
#include "slab.h"

_Static_assert(sizeof(struct weft_future) <= WEFT_SLAB_BLOCK, "a future must fit a slab block");

static const struct weft__task_ops future_ops;

static inline uint32_t load_state(const weft_future *f)
{
    /* acquire [FU1]: a done phase comes with its outcome. */
    return weft__future_state(f);
}

weft_future *weft__future_new(struct weft_pool *pool, uint32_t refs)
{
    struct weft__slab *slab;
    weft_future *f = weft__slab_alloc(&slab);
    if (f == NULL)
        return NULL;
    memset(f, 0, sizeof(*f));
    f->slab = slab;
    f->task.ops = pool ? &future_ops : NULL;
    f->pool = pool;
    f->forks = pool ? pool->forks : 0;
    /* relaxed: f is not shared yet; queue insertion or the returned
     * handle publishes it. */
    atomic_store_explicit(&f->state, WEFT_PENDING, memory_order_relaxed);
    atomic_store_explicit(&f->refs, refs, memory_order_relaxed);
    atomic_store_explicit(&f->listeners, 0, memory_order_relaxed);
    atomic_store_explicit(&f->watchers, 0, memory_order_relaxed);
    atomic_store_explicit(&f->thief, NULL, memory_order_relaxed);
    return f;
}

bool weft__future_listen(weft_future *f, struct weft__listener *l)
{
    return weft__lstack_push(&f->listeners, l);
}

bool weft__future_watch(weft_future *f, struct weft__listener *l)
{
    return weft__lstack_push(&f->watchers, l);
}

void weft__future_prune(weft_future *f, bool (*stale)(const struct weft__listener *l))
{
    weft__lstack_prune(&f->watchers, f, stale);
}

/* Watchers first (they only wake waiters), then callbacks in FIFO order. */
void weft__future_complete(weft_future *f, uint32_t final)
{
    weft__word_complete(&f->state, final);
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

static void future_free(weft_future *f)
{
    weft__lstack_discard(&f->watchers);
    weft__lstack_discard(&f->listeners);
    if (f->result_dtor)
        f->result_dtor(f->result);
    if (f->error_dtor)
        f->error_dtor(f->error);
    weft__slab_retire(f->slab, f);
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

void weft_future_release(weft_future *f)
{
    if (f == NULL)
        return;
    WEFT__CHECK_HELD(f, "weft_future_release");
#ifdef WEFT_TSAN
    /* [FU3] TSan does not model fences: acq_rel on the decrement instead. */
    uint32_t old = atomic_fetch_sub_explicit(&f->refs, 1, memory_order_acq_rel);
    CHECK_OLD_REFS(old, "weft_future_release");
    if (old == 1)
        future_free(f);
#else
    /* [FU3] release: our uses of f happen before the free. */
    uint32_t old = atomic_fetch_sub_explicit(&f->refs, 1, memory_order_release);
    CHECK_OLD_REFS(old, "weft_future_release");
    if (old == 1) {
        /* [FU3] acquire fence: pairs with every other holder's release. */
        atomic_thread_fence(memory_order_acquire);
        future_free(f);
    }
#endif
}

/* ---- tasks ---- */

/* The queued record is done with: a task that never started still owns its
 * argument (a started one freed it in start_and_run). The STARTED bit is
 * final here: the caller made sure f is no longer pending. */
static void dispose_task(weft_future *f, struct weft__worker *w)
{
    /* relaxed: the bit was set by a CAS this thread observed, or by a
     * starter whose completion this thread acquired. */
    if (f->arg_dtor && !(atomic_load_explicit(&f->state, memory_order_relaxed) & WEFT_ST_STARTED))
        f->arg_dtor(f->arg);
    weft_future_release(f); /* the runtime's reference */
    if (w != NULL)
        weft__task_finished(w);
}

static void fail_claimed(weft_future *f, int status)
{
    f->status = status;
    weft__future_complete(f, WEFT_FINISHED | WEFT_ST_FAILED);
}

/* Start f (PENDING -> RUNNING) and run it on w. False if it was cancelled,
 * claimed or started elsewhere. */
static bool start_and_run(weft_future *f, struct weft__worker *w)
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
     * work, which f's waiters must not leapfrog into. */
    weft__leap_hint_set(&f->thief, w); /* waiters leapfrog onto w (wait.h) */
    weft_future *outer = weft__ctx_swap(w, f);
    void *result = NULL;
    int status = f->fn(&w->ctx, f->arg, &result);
    weft__ctx_swap(w, outer);
    if (status != 0)
        status = weft__task_status_of(status);
    /* The task is over: its argument goes now (the starter owns it). */
    if (f->arg_dtor)
        f->arg_dtor(f->arg);
    f->result = result;
    f->status = status;
    /* STARTED stays set: dispose_task reads it after completion. */
    weft__future_complete(f, WEFT_FINISHED | WEFT_ST_STARTED | (status != 0 ? WEFT_ST_FAILED : 0));
    return true;
}

static void future_run(struct weft__task *t, struct weft__worker *w)
{
    weft_future *f = weft_container_of(t, weft_future, task);
    struct weft_pool *p = f->pool;
    /* acquire: pairs with the release store of broken in loop.c's
     * worker_start. */
    if (weft_unlikely(atomic_load_explicit(&p->broken, memory_order_acquire))) {
        if (weft__future_claim(f, WEFT__ALLOW(WEFT_PENDING)))
            fail_claimed(f, WEFT_EBROKEN);
    } else if (weft_unlikely(weft__pool_cancelling(p))) {
        if (weft__future_claim(f, WEFT__ALLOW(WEFT_PENDING)))
            cancel_claimed(f);
    } else {
        start_and_run(f, w);
    }
    /* A canceller that claimed f may still be completing it (CLAIMED while
     * PENDING): the pool must not count f as finished before it is. A task
     * RUNNING here is run by a waiting worker (run_awaited), maybe this one
     * further down the stack: never wait for that. */
    uint32_t s = load_state(f);
    if ((s & WEFT_ST_CLAIMED) && (s & WEFT_ST_PHASE) == WEFT_PENDING)
        weft__word_wait(&f->state, NULL);
    dispose_task(f, w);
}

bool weft__future_try_run(weft_future *f, struct weft__worker *w)
{
    struct weft_pool *p = f->pool;
    /* acquire: pairs with the release store of broken in loop.c's
     * worker_start. */
    if (p == NULL || p != w->pool || atomic_load_explicit(&p->broken, memory_order_acquire) ||
        weft__pool_cancelling(p))
        return false;
    struct weft__frame saved;
    weft__frame_enter(w, &saved);
    bool ran = start_and_run(f, w);
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
    const weft_future *f = weft_container_of(t, weft_future, task);
    uint32_t s = atomic_load_explicit(&((weft_future *)f)->state, memory_order_relaxed);
    return (s & WEFT_ST_PHASE) != WEFT_PENDING;
}

static void future_drop(struct weft__task *t)
{
    weft_future *f = weft_container_of(t, weft_future, task);
    if (weft__future_claim(f, WEFT__ALLOW(WEFT_PENDING)))
        cancel_claimed(f);
    /* As in future_run: a concurrent canceller's outcome must be visible
     * before the pool counts the task finished. */
    uint32_t s = load_state(f);
    if ((s & WEFT_ST_CLAIMED) && (s & WEFT_ST_PHASE) == WEFT_PENDING)
        weft__word_wait(&f->state, NULL);
    dispose_task(f, NULL);
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
    f->fn = fn;
    f->arg = arg;
    f->arg_dtor = arg_dtor;
    int rc = weft__pool_accept(pool, &f->task);
    if (rc != WEFT_OK) {
        if (arg_dtor)
            arg_dtor(arg);
        weft__slab_free(f->slab, f);
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
    return f->pool != NULL && f->forks != weft__fork_count();
}

int weft__future_wait(weft_future *f, const struct timespec *deadline)
{
    if (future_stranded(f))
        return WEFT_EBROKEN;
    /* A promise has no task to run; a timed wait runs none (it would
     * stretch its deadline by the task's length): both only block. An
     * untimed one runs the task itself if it has not started, on a worker
     * or, from another thread, in a parked worker's place (wait.h). */
    if (f->pool == NULL)
        return weft__word_wait(&f->state, deadline);
    struct weft__help h = {
        .runner = {.run = run_awaited, .ready = awaited_unstarted, .pool = f->pool, .arg = f},
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
 * was failed by the pool (fail_claimed: WEFT_EBROKEN). Promises (no pool)
 * fail only through weft_promise_set_error, a user's status. */
static bool library_failure(const weft_future *f, uint32_t s)
{
    return f->pool != NULL && !(s & WEFT_ST_STARTED);
}

int weft_future_result(weft_future *f, int64_t timeout_ns, void **value)
{
    int rc = weft_future_wait(f, timeout_ns);
    if (rc != WEFT_OK)
        return rc;
    uint32_t s = load_state(f);
    if ((s & WEFT_ST_PHASE) == WEFT_CANCELLED)
        return WEFT_ECANCELED;
    if (f->status != 0)
        return library_failure(f, s) ? f->status : weft__task_failed(f->status);
    if (value)
        *value = f->result;
    return WEFT_OK;
}

void *weft_future_error(const weft_future *f)
{
    if (f == NULL || (load_state(f) & WEFT_ST_PHASE) != WEFT_FINISHED)
        return NULL;
    return f->error;
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
