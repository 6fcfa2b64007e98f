/* Futures and promises: state transitions, outcome, callbacks, references.
 *
 * Ordering and invariants
 *   [FU1] Outcome publication: the completer (the task's worker, a
 *         canceller, or a promise setter) first wins WEFT_ST_CLAIMED (or, for
 *         a running task, is the only possible completer), writes result /
 *         status / error with plain stores, then completes the word with
 *         weft__word_complete (acq_rel exchange, wait.c [WT1]). Readers load
 *         the state with acquire before touching the outcome.
 *   [FU2] Listeners (callbacks) and watchers (wait-set links) are two
 *         closable stacks. Push is a release CAS on the head; closing is an
 *         acq_rel exchange with CLOSED that acquires every pushed node.
 *         Once closed, pushes fail and the caller fires its listener itself,
 *         so every listener fires exactly once.
 *   [FU4] Pruning the watchers (never the callbacks, whose order matters).
 *         A pruner owns what it detaches: it swaps a non-empty, open head
 *         for empty with an acquire CAS (which pairs with the pushers'
 *         release CAS, so the nodes' fields are visible), discards the stale
 *         links and pushes the rest back on top of whatever was pushed
 *         meanwhile with a release CAS (the next closer or pruner acquires
 *         the links it rewired; being an RMW, the put-back also continues
 *         the release sequences of the pushes it splices under, so their
 *         nodes stay acquired too: every write to the head after creation
 *         is an RMW). If the stack was closed meanwhile, the closer fired
 *         only what it found, and the pruner fires the rest itself; it saw
 *         CLOSED with an acquire load that pairs with the closer's exchange,
 *         which follows the completion of the state word, so those fires
 *         come after the completion as every fire does. Each link is owned
 *         by exactly one of: the stack, one pruner, the closer, so each fires
 *         or is discarded exactly once. Pushers and put-backs only link to
 *         the head their CAS validates, and a detach reads no node before
 *         it owns it, so a head that leaves and comes back (ABA) is
 *         harmless. The pruner's caller holds a reference, so the future is
 *         not freed (discard_listeners) under it.
 *         The prune is lock-free, but while a pruner holds a detached chain
 *         the waiters in it are woken by its put-back, not by the
 *         completer: a pruner preempted in that short window (a walk over
 *         the links, no allocation) delays their wake-up. Each prune walks
 *         every link on the future, so W waits polling one future cost
 *         O(W^2) per round of polls.
 *   [FU3] References: release decrement; the last one fences acquire before
 *         freeing, so all uses by other holders happen before the free.
 *   The runtime holds one reference until after completion and the wake,
 *   so the futex word outlives every wake on it.
 *   Phases only move forward: PENDING -> RUNNING -> FINISHED, or
 *   PENDING (-> RUNNING for promises) -> CANCELLED. */
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "future.h"
#include "futex.h"
#include "pool.h"
#include "slab.h"
#include "wait.h"

_Static_assert(sizeof(struct weft_future) <= WEFT_SLAB_BLOCK, "a future must fit a slab block");

#define LISTENERS_CLOSED ((uintptr_t)1)

static _Atomic uint64_t callback_failures;

static void future_exec(struct weft__task *t, struct weft__worker *w);

static inline uint32_t load_state(const weft_future *f)
{
    /* acquire: pairs with [FU1] so that a done phase comes with its outcome. */
    return atomic_load_explicit(&((weft_future *)f)->state, memory_order_acquire);
}

static weft_future *future_new(struct weft_pool *pool, uint32_t refs)
{
    struct weft__slab *slab;
    weft_future *f = weft__slab_alloc(&slab);
    if (f == NULL)
        return NULL;
    memset(f, 0, sizeof(*f));
    f->slab = slab;
    f->task.exec = pool ? future_exec : NULL;
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

/* ---- listeners and watchers ---- */

/* Push l on a closable stack [FU2]; false (l not taken) if it is closed. */
static bool stack_push(_Atomic uintptr_t *head, struct weft__listener *l)
{
    /* acquire (here and on CAS failure): reading CLOSED must order the
     * completion before the caller acts on "done" (fires l itself, reads
     * the outcome); pairs with stack_close's release. */
    uintptr_t h = atomic_load_explicit(head, memory_order_acquire);
    do {
        if (h == LISTENERS_CLOSED)
            return false;
        l->next = (struct weft__listener *)h;
        /* [FU2] release: publishes *l to the closer (and to a pruner [FU4]). */
    } while (!atomic_compare_exchange_weak_explicit(head, &h, (uintptr_t)l, memory_order_release,
                                                    memory_order_acquire));
    return true;
}

/* Close a stack [FU2] and return what was on it (newest first). */
static struct weft__listener *stack_close(_Atomic uintptr_t *head)
{
    /* [FU2] acq_rel: acquire takes every pushed node; release makes the
     * completion (sequenced before) visible to whoever reads CLOSED: a
     * failed push (stack_push) or a pruner's put-back [FU4]. */
    return (struct weft__listener *)atomic_exchange_explicit(head, LISTENERS_CLOSED,
                                                             memory_order_acq_rel);
}

/* Fire (f != NULL) or discard (f == NULL) every listener of a chain. */
static void fire_chain(struct weft__listener *l, weft_future *f)
{
    while (l != NULL) {
        struct weft__listener *n = l->next;
        l->fire(l, f);
        l = n;
    }
}

bool weft__future_listen(weft_future *f, struct weft__listener *l)
{
    return stack_push(&f->listeners, l);
}

bool weft__future_watch(weft_future *f, struct weft__listener *l)
{
    return stack_push(&f->watchers, l);
}

static struct weft__listener *reverse(struct weft__listener *l)
{
    struct weft__listener *out = NULL;
    while (l) {
        struct weft__listener *n = l->next;
        l->next = out;
        out = l;
        l = n;
    }
    return out;
}

/* Watchers first (they only wake waiters), then callbacks in FIFO order. */
static void fire_listeners(weft_future *f)
{
    fire_chain(stack_close(&f->watchers), f);
    fire_chain(reverse(stack_close(&f->listeners)), f);
}

/* Put the chain first..*tail back on top of f's watchers [FU4], or fire it
 * if f completed since it was detached. */
static void watchers_put_back(weft_future *f, struct weft__listener *first,
                              struct weft__listener **tail)
{
    /* [FU4] acquire: seeing CLOSED must order the completion before our
     * fires; pairs with stack_close's exchange. */
    uintptr_t h = atomic_load_explicit(&f->watchers, memory_order_acquire);
    do {
        if (h == LISTENERS_CLOSED) {
            *tail = NULL;
            fire_chain(first, f);
            return;
        }
        *tail = (struct weft__listener *)h;
        /* [FU4] release: publishes the rewired links to the closer or the
         * next pruner; acquire on failure as for the load above. */
    } while (!atomic_compare_exchange_weak_explicit(&f->watchers, &h, (uintptr_t)first,
                                                    memory_order_release, memory_order_acquire));
}

void weft__future_prune(weft_future *f, bool (*stale)(const struct weft__listener *l))
{
    /* relaxed: the CAS below validates. */
    uintptr_t h = atomic_load_explicit(&f->watchers, memory_order_relaxed);
    do {
        if (h == 0 || h == LISTENERS_CLOSED)
            return;
        /* [FU4] acquire: pairs with the pushers' and earlier put-backs'
         * release CAS, so the chain's fields are ours to read. */
    } while (!atomic_compare_exchange_weak_explicit(&f->watchers, &h, 0, memory_order_acquire,
                                                    memory_order_relaxed));
    struct weft__listener *keep = NULL, **tail = &keep;
    for (struct weft__listener *l = (struct weft__listener *)h, *n; l != NULL; l = n) {
        n = l->next;
        if (stale(l)) {
            l->fire(l, NULL);
        } else {
            *tail = l;
            tail = &l->next;
        }
    }
    if (keep != NULL)
        watchers_put_back(f, keep, tail);
}

/* Publish the final phase, wake waiters, run listeners. The caller owns the
 * outcome (claimed or the running task) and holds a reference. */
static void complete(weft_future *f, uint32_t final)
{
    weft__word_complete(&f->state, final);
    fire_listeners(f);
}

/* Win the right to complete a not-yet-done future. allow: phases accepted. */
static bool claim(weft_future *f, uint32_t allow_mask)
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

#define ALLOW(phase) (1u << (phase))

static void cancel_claimed(weft_future *f)
{
    complete(f, WEFT_CANCELLED);
}

/* ---- references ---- */

static struct weft__listener *stack_peek(_Atomic uintptr_t *head)
{
    /* relaxed: the last reference is gone; [FU3]'s fence ordered all pushes
     * and put-backs (a pruner releases its reference after its prune). */
    uintptr_t h = atomic_load_explicit(head, memory_order_relaxed);
    return h == LISTENERS_CLOSED ? NULL : (struct weft__listener *)h;
}

static void discard_listeners(weft_future *f)
{
    fire_chain(stack_peek(&f->watchers), NULL);
    fire_chain(stack_peek(&f->listeners), NULL);
}

static void future_free(weft_future *f)
{
    discard_listeners(f);
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
__attribute__((noinline, no_sanitize_address)) static uint32_t debug_refs(const weft_future *f)
{
    /* relaxed: a diagnostic read of a count the caller must hold a part of. */
    return atomic_load_explicit(&((weft_future *)f)->refs, memory_order_relaxed);
}
#define CHECK_HELD(f, call)                                                         \
    do {                                                                            \
        if (weft_unlikely(debug_refs(f) == 0))                                      \
            WEFT_DEBUG_FAIL(call ": the future was already freed (released once too often)"); \
    } while (0)
#define CHECK_OLD_REFS(old, call)                                                   \
    do {                                                                            \
        if (weft_unlikely((old) == 0))                                              \
            WEFT_DEBUG_FAIL(call ": the future was already freed (released once too often)"); \
    } while (0)
#else
#define CHECK_HELD(f, call) ((void)0)
#define CHECK_OLD_REFS(old, call) ((void)(old))
#endif

weft_future *weft_future_ref(weft_future *f)
{
    if (f != NULL) {
        CHECK_HELD(f, "weft_future_ref");
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
    CHECK_HELD(f, "weft_future_release");
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
    complete(f, WEFT_FINISHED | WEFT_ST_FAILED);
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
    struct weft_ctx ctx = weft__ctx_make(w, f);
    void *result = NULL;
    int status = f->fn(&ctx, f->arg, &result);
    /* The task is over: its argument goes now (the starter owns it). */
    if (f->arg_dtor)
        f->arg_dtor(f->arg);
    f->result = result;
    f->status = status;
    /* STARTED stays set: dispose_task reads it after completion. */
    complete(f, WEFT_FINISHED | WEFT_ST_STARTED | (status != 0 ? WEFT_ST_FAILED : 0));
    return true;
}

static void future_exec(struct weft__task *t, struct weft__worker *w)
{
    weft_future *f = weft_container_of(t, weft_future, task);
    struct weft_pool *p = f->pool;
    /* acquire: pairs with the release store of broken in worker_start. */
    if (weft_unlikely(atomic_load_explicit(&p->broken, memory_order_acquire))) {
        if (claim(f, ALLOW(WEFT_PENDING)))
            fail_claimed(f, WEFT_EBROKEN);
    } else if (weft_unlikely(weft__pool_cancelling(p))) {
        if (claim(f, ALLOW(WEFT_PENDING)))
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
    /* acquire: pairs with the release store of broken in worker_start. */
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

/* The queued record only needs disposing once the task started (a waiter
 * ran it inline) or was claimed or cancelled (task.h). relaxed: a hint;
 * future_exec decides with its own CAS. */
bool weft__future_settled(const struct weft__task *t)
{
    const weft_future *f = weft_container_of(t, weft_future, task);
    uint32_t s = atomic_load_explicit(&((weft_future *)f)->state, memory_order_relaxed);
    return (s & WEFT_ST_PHASE) != WEFT_PENDING;
}

bool weft__task_is_future(const struct weft__task *t)
{
    return t->exec == future_exec;
}

void weft__future_task_drop(struct weft__task *t)
{
    weft_future *f = weft_container_of(t, weft_future, task);
    if (claim(f, ALLOW(WEFT_PENDING)))
        cancel_claimed(f);
    /* As in future_exec: a concurrent canceller's outcome must be visible
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
    weft_future *f = future_new(pool, out ? 2 : 1);
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
    return f != NULL && weft__phase_done(load_state(f));
}

bool weft_future_running(const weft_future *f)
{
    return f != NULL && (load_state(f) & WEFT_ST_PHASE) == WEFT_RUNNING;
}

bool weft_future_cancelled(const weft_future *f)
{
    return f != NULL && (load_state(f) & WEFT_ST_PHASE) == WEFT_CANCELLED;
}

bool weft__future_stranded(const weft_future *f)
{
    /* Done first: a wait on a done future then costs only that load. The
     * pool is never read: a waiter may get here just as the task completes
     * and another thread destroys the pool. */
    return !weft__phase_done(load_state(f)) && weft__future_inherited(f);
}

bool weft__future_inherited(const weft_future *f)
{
    return f->pool != NULL && f->forks != weft__fork_count();
}

int weft__future_wait(weft_future *f, const struct timespec *deadline)
{
    if (weft__future_stranded(f))
        return WEFT_EBROKEN;
    /* A promise has no task to run; a timed wait runs none (it would
     * stretch its deadline by the task's length): both only block. */
    if (f->pool == NULL)
        return weft__word_wait(&f->state, deadline);
    struct weft__help h = {.runner = {.run = run_awaited, .arg = f},
                           .leap = weft__future_leap(f)};
    if (deadline != NULL)
        return weft__word_wait_fallback(&f->state, deadline, &h);
    return weft__word_wait_help(&f->state, &h);
}

int weft_future_wait(weft_future *f, int64_t timeout_ns)
{
    if (f == NULL)
        return WEFT_EINVAL;
    CHECK_HELD(f, "weft_future_wait");
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
    CHECK_HELD(f, "weft_future_wait_until");
    /* At or before now (a negative tv_sec too): a poll, as timeout 0. */
    if (passed)
        return weft_future_wait(f, 0);
    return weft__future_wait(f, deadline);
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
        return f->status;
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

/* ---- cancellation ---- */

int weft_future_cancel(weft_future *f)
{
    if (f == NULL)
        return WEFT_EINVAL;
    if (claim(f, ALLOW(WEFT_PENDING))) {
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
    if ((s & WEFT_ST_CLAIMED) && !weft__phase_done(s)) {
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

/* ---- callbacks ---- */

struct callback_node {
    struct weft__listener l;
    weft_callback cb;
    void *ud;
};

static void run_callback(weft_callback cb, weft_future *f, void *ud)
{
    if (cb(f, ud) != 0)
        /* relaxed: a statistic. */
        atomic_fetch_add_explicit(&callback_failures, 1, memory_order_relaxed);
}

static void fire_callback(struct weft__listener *l, weft_future *f)
{
    struct callback_node *n = weft_container_of(l, struct callback_node, l);
    if (f != NULL)
        run_callback(n->cb, f, n->ud);
    free(n);
}

int weft_future_add_done_callback(weft_future *f, weft_callback cb, void *ud)
{
    if (f == NULL || cb == NULL)
        return WEFT_EINVAL;
    if (weft_future_done(f)) {
        run_callback(cb, f, ud);
        return WEFT_OK;
    }
    struct callback_node *n = weft__malloc(sizeof(*n));
    if (n == NULL)
        return WEFT_ENOMEM;
    n->l.fire = fire_callback;
    n->cb = cb;
    n->ud = ud;
    if (!weft__future_listen(f, &n->l)) {
        free(n);
        run_callback(cb, f, ud);
    }
    return WEFT_OK;
}

uint64_t weft_callback_failures(void)
{
    /* relaxed: a statistic. */
    return atomic_load_explicit(&callback_failures, memory_order_relaxed);
}

/* ---- inside a task ---- */

bool weft_ctx_cancel_requested(const weft_ctx *ctx)
{
    if (ctx == NULL)
        return false;
    if (ctx->future != NULL &&
        /* relaxed: a polled flag. */
        (atomic_load_explicit(&ctx->future->state, memory_order_relaxed) & WEFT_ST_CANCEL_REQ))
        return true;
    return weft__pool_cancelling(ctx->worker->pool);
}

int weft_ctx_set_error(weft_ctx *ctx, void *err, weft_dtor err_dtor)
{
    if (ctx == NULL)
        return WEFT_EINVAL;
    if (ctx->future == NULL)
        return WEFT_EPERM;
    weft_future *f = ctx->future;
    if (f->error_dtor)
        f->error_dtor(f->error);
    f->error = err;
    f->error_dtor = err_dtor;
    return WEFT_OK;
}

int weft_ctx_set_result_dtor(weft_ctx *ctx, weft_dtor result_dtor)
{
    if (ctx == NULL)
        return WEFT_EINVAL;
    if (ctx->future == NULL)
        return WEFT_EPERM;
    ctx->future->result_dtor = result_dtor;
    return WEFT_OK;
}

weft_pool *weft_ctx_pool(const weft_ctx *ctx)
{
    return ctx ? ctx->worker->pool : NULL;
}

unsigned weft_ctx_worker(const weft_ctx *ctx)
{
    return ctx ? ctx->worker->index : 0;
}

/* ---- promises ---- */

int weft_promise_create(weft_future **out)
{
    if (out == NULL)
        return WEFT_EINVAL;
    weft_future *f = future_new(NULL, 1);
    if (f == NULL)
        return WEFT_ENOMEM;
    *out = f;
    return WEFT_OK;
}

int weft_promise_set_running(weft_future *f)
{
    if (f == NULL || f->pool != NULL)
        return WEFT_EINVAL;
    /* relaxed: the CAS validates; starting publishes nothing. */
    uint32_t s = atomic_load_explicit(&f->state, memory_order_relaxed);
    while ((s & WEFT_ST_PHASE) == WEFT_PENDING && !(s & WEFT_ST_CLAIMED)) {
        if (atomic_compare_exchange_weak_explicit(&f->state, &s,
                                                  (s & ~WEFT_ST_PHASE) | WEFT_RUNNING,
                                                  memory_order_relaxed, memory_order_relaxed))
            return WEFT_OK;
    }
    if ((s & WEFT_ST_CLAIMED) && !weft__phase_done(s)) {
        /* A cancel or a set_result is completing it right now. */
        weft__word_wait(&f->state, NULL);
        s = load_state(f);
    }
    return (s & WEFT_ST_PHASE) == WEFT_CANCELLED ? WEFT_ECANCELED : WEFT_EALREADY;
}

static int promise_complete(weft_future *f, int status, void *value, weft_dtor value_dtor,
                            void *error, weft_dtor error_dtor)
{
    if (f == NULL || f->pool != NULL) {
        if (value_dtor)
            value_dtor(value);
        if (error_dtor)
            error_dtor(error);
        return WEFT_EINVAL;
    }
    if (!claim(f, ALLOW(WEFT_PENDING) | ALLOW(WEFT_RUNNING))) {
        if (value_dtor)
            value_dtor(value);
        if (error_dtor)
            error_dtor(error);
        return WEFT_EALREADY;
    }
    f->result = value;
    f->result_dtor = value_dtor;
    f->error = error;
    f->error_dtor = error_dtor;
    f->status = status;
    /* Keep the future alive across callbacks even if one releases it. */
    weft_future_ref(f);
    complete(f, WEFT_FINISHED | (status != 0 ? WEFT_ST_FAILED : 0));
    weft_future_release(f);
    return WEFT_OK;
}

int weft_promise_set_result(weft_future *f, void *value, weft_dtor value_dtor)
{
    return promise_complete(f, 0, value, value_dtor, NULL, NULL);
}

int weft_promise_set_error(weft_future *f, int status, void *error, weft_dtor error_dtor)
{
    if (status == 0) {
        if (error_dtor)
            error_dtor(error);
        return WEFT_EINVAL;
    }
    return promise_complete(f, status, NULL, NULL, error, error_dtor);
}
