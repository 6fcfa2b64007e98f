/* Futures: a 32-bit state word (the futex word), a reference count, and two
 * closable Treiber stacks of listeners: done-callbacks, and the wait-set
 * links ("watchers"), which can also be pruned. */
#ifndef WEFT_FUTURE_H
#define WEFT_FUTURE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "task.h"
#include "wait.h"
#include "weft.h"

/* State word layout. The phase only moves PENDING -> RUNNING -> FINISHED or
 * PENDING/RUNNING -> CANCELLED (RUNNING -> CANCELLED never happens for tasks). */
#define WEFT_ST_PHASE 3u
#define WEFT_ST_WAITERS 4u     /* someone sleeps (or is about to) on the word */
#define WEFT_ST_CANCEL_REQ 8u  /* cooperative cancellation requested */
#define WEFT_ST_FAILED 16u     /* finished with a nonzero status */
#define WEFT_ST_CLAIMED 32u    /* a completer owns the outcome fields */
#define WEFT_ST_STARTED 64u    /* the task function was started (runs once) */

/* A listener fires once when the future is done, on the completing thread
 * (f != NULL), or is discarded when a never-completed future is freed
 * (f == NULL). fire owns l and may free it. */
struct weft__listener {
    struct weft__listener *next;
    void (*fire)(struct weft__listener *l, weft_future *f);
};

struct weft_future {
    struct weft__task task;      /* queued record (tasks only): independent */
    struct weft__slab *slab;     /* where the record's memory came from (slab.h) */
    _Atomic uint32_t state;      /* futex word, see WEFT_ST_* */
    _Atomic uint32_t refs;       /* handles + the runtime's reference */
    _Atomic uintptr_t listeners; /* callbacks: closable stack; 1 = closed */
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

/* Register l. Returns false (and does not take l) if f is already done.
 * Listeners fire in registration order; the completer fires the watchers
 * it finds before them. */
bool weft__future_listen(weft_future *f, struct weft__listener *l);
/* Register l as a watcher: as weft__future_listen, but watchers fire in no
 * set order, and can be removed again with weft__future_prune. */
bool weft__future_watch(weft_future *f, struct weft__listener *l);
/* Discard (fire with NULL) every watcher of f for which stale(l) holds,
 * on this thread; watchers that are not stale stay. If f completes during
 * the call, the watchers kept may fire on this thread instead of the
 * completer's. A watcher that another thread is pruning at the same moment
 * is not seen, and stays until the next prune, f's completion or f's free
 * (discarded). Lock-free;
 * the caller holds a reference on f. */
void weft__future_prune(weft_future *f, bool (*stale)(const struct weft__listener *l));
/* The pool's settled hook (task.h): t is a future task that started or
 * was claimed. */
bool weft__future_settled(const struct weft__task *t);
/* True if t is a submitted future task. */
bool weft__task_is_future(const struct weft__task *t);
/* Cancel and dispose of a queued future task that no worker will run
 * (shutdown with CANCEL). The caller accounts for it in pool->life. */
void weft__future_task_drop(struct weft__task *t);
/* A worker waiting on f runs f's task itself if it has not started (same
 * pool, pool neither broken nor cancelling); the queued record is disposed
 * of later by whoever pops it. Returns true if it ran the task. */
bool weft__future_try_run(weft_future *f, struct weft__worker *w);
/* Wait until f is done or the deadline (NULL = none) passes: helps on a
 * worker. Returns WEFT_OK, WEFT_ETIMEDOUT, or WEFT_EBROKEN if f is stranded. */
int weft__future_wait(weft_future *f, const struct timespec *deadline);
/* True if f is not done and never will be: its pool was inherited through
 * fork() (fork.h), so the worker that would complete it is not here. */
bool weft__future_stranded(const weft_future *f);
/* True if f's task belongs to a pool inherited through fork(): if it is
 * not done, it is stranded. Reads neither f's state nor its pool. */
bool weft__future_inherited(const weft_future *f);
/* A wait for f leapfrogs onto the worker running it, while f is pending. */
static inline struct weft__leap weft__future_leap(weft_future *f)
{
    return (struct weft__leap){.hint = &f->thief, .word = &f->state};
}
static inline bool weft__phase_done(uint32_t s)
{
    return (s & WEFT_ST_PHASE) >= WEFT_FINISHED;
}

#endif
