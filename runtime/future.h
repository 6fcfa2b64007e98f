/* Futures: a state word (word.h's completion word with flag bits of its
 * own), a reference count, an outcome, and two listener stacks
 * (listeners.h): done-callbacks, and the wait-set links ("watchers"), which
 * can also be pruned. The kind's files: future.c (the record, its task,
 * submit, cancel, waits and queries), promise.c, callback.c, ctx.c. */
#ifndef WEFT_FUTURE_H
#define WEFT_FUTURE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "listeners.h"
#include "task.h"
#include "word.h"
#include "weft.h"

/* State word layout. The phase only moves PENDING -> RUNNING -> FINISHED or
 * PENDING/RUNNING -> CANCELLED (RUNNING -> CANCELLED never happens for tasks). */
#define WEFT_ST_PHASE WEFT_WORD_PHASE
#define WEFT_ST_WAITERS WEFT_WORD_WAITERS /* someone sleeps on the word */
#define WEFT_ST_CANCEL_REQ 8u  /* cooperative cancellation requested */
#define WEFT_ST_FAILED 16u     /* finished with a nonzero status */
#define WEFT_ST_CLAIMED 32u    /* a completer owns the outcome fields */
#define WEFT_ST_STARTED 64u    /* the task function was started (runs once) */

struct weft_future {
    struct weft__task task;      /* queued record (tasks only): independent */
    struct weft__slab *slab;     /* where the record's memory came from (slab.h) */
    _Atomic uint32_t state;      /* futex word, see WEFT_ST_* */
    _Atomic uint32_t refs;       /* handles + the runtime's reference */
    _Atomic uintptr_t listeners; /* callbacks (listeners.h) */
    _Atomic uintptr_t watchers;  /* wait-set links: same, prunable */
    struct weft_pool *pool;      /* NULL for promises */
    weft__leap_hint thief;       /* the worker running the task, for waits */
    weft_fn fn;
    void *arg;
    weft_dtor arg_dtor;
    /* Outcome: written by the one completer before the release exchange. */
    void *result;
    weft_dtor result_dtor;
    void *error;
    weft_dtor error_dtor;
    int status;
    uint32_t forks; /* the pool's fork count (fork.h), kept so that waits
                     * never read the pool, which may be gone by then */
};

#define WEFT__ALLOW(phase) (1u << (phase))

/* The state, acquire: pairs with the completion ([WD1] in word.c), so a
 * done phase comes with its outcome. */
static inline uint32_t weft__future_state(const weft_future *f)
{
    return weft__word_load(&((weft_future *)f)->state);
}

/* True if f is a task that is queued and unstarted: neither started nor
 * claimed by a canceller, so it is still counted in its pool's life.
 * acquire, as weft__future_state. */
static inline bool weft__future_unstarted(const weft_future *f)
{
    return f->pool != NULL &&
           (weft__future_state(f) & (WEFT_ST_PHASE | WEFT_ST_CLAIMED)) == WEFT_PENDING;
}

/* A new future of pool (NULL: a promise) with refs references, or NULL
 * when memory is short. Not shared yet. */
weft_future *weft__future_new(struct weft_pool *pool, uint32_t refs);
/* Win the right to complete a not-yet-done future whose phase is in
 * allow_mask (WEFT__ALLOW bits). */
bool weft__future_claim(weft_future *f, uint32_t allow_mask);
/* Publish the final state, wake waiters, fire watchers then callbacks.
 * The caller owns the outcome (claimed, or the running task) and holds a
 * reference. */
void weft__future_complete(weft_future *f, uint32_t final);

/* Register l (callback order). Returns false (and does not take l) if f is
 * already done. */
bool weft__future_listen(weft_future *f, struct weft__listener *l);
/* Register l as a watcher: as weft__future_listen, but watchers fire in no
 * set order, before the callbacks, and can be removed again with
 * weft__future_prune (listeners.h, weft__lstack_prune). */
bool weft__future_watch(weft_future *f, struct weft__listener *l);
void weft__future_prune(weft_future *f, bool (*stale)(const struct weft__listener *l));

/* A worker waiting on f runs f's task itself if it has not started (same
 * pool, pool neither broken nor cancelling); the queued record is disposed
 * of later by whoever pops it. Returns true if it ran the task. */
bool weft__future_try_run(weft_future *f, struct weft__worker *w);
/* Wait until f is done or the deadline (NULL = none) passes: helps on a
 * worker. Returns WEFT_OK, WEFT_ETIMEDOUT, or WEFT_EBROKEN if f is stranded. */
int weft__future_wait(weft_future *f, const struct timespec *deadline);
/* True if f's task belongs to a pool inherited through fork(): if it is
 * not done, it is stranded. Reads neither f's state nor its pool. */
bool weft__future_inherited(const weft_future *f);
/* A wait for f leapfrogs onto the worker running it, while f is pending. */
static inline struct weft__leap weft__future_leap(weft_future *f)
{
    return (struct weft__leap){.hint = &f->thief, .word = &f->state};
}

/* Debug builds (no NDEBUG) stop the process when a release, ref or wait
 * finds the future already freed (future.c). */
#ifndef NDEBUG
void weft__future_check_held(const weft_future *f, const char *call);
#define WEFT__CHECK_HELD(f, call) weft__future_check_held((f), (call))
#else
#define WEFT__CHECK_HELD(f, call) ((void)0)
#endif

#endif
