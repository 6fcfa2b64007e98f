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
#define WEFT_ST_BOXED 128u     /* result points to a weft__outcome (below) */
#define WEFT_ST_LISTENED 256u  /* a listener or watcher was pushed: the completer
                                * closes the stacks (none: it skips them) */

/* The boxed part of an outcome. */
struct weft__outcome {
    void *value;
    weft_dtor value_dtor;
    void *error;
    weft_dtor error_dtor;
};

/* What the futures of one submission share (64 bytes): a single
 * weft_submit, a promise, or a bulk block of n futures (bulk.c). A
 * single's or promise's source and future share one slab block; a bulk block's
 * source heads it with its n futures right after it. */
struct weft__source {
    struct weft_pool *pool; /* NULL for promises */
    union {
        struct {
            struct weft__task task; /* singles: the queued record; bulk: the block's */
            weft_fn fn;
            weft_dtor arg_dtor;     /* run once per future's argument */
        };
        /* A promise has no task: its outcome's box, needing no memory of
         * its own (a promise completes even when memory is short). */
        struct weft__outcome box;
    };
    struct weft__slab *slab;  /* the slab block's (singles, promises), else NULL */
    uint32_t forks;           /* the pool's fork count (fork.h), kept so that
                               * waits never read the pool, which may be gone */
    uint32_t n;               /* futures in the block */
    char pad_[8];             /* a line: a single's future follows it */
};

/* A bulk block is its source, then a line for its live count, then its n
 * futures. The count holds one unit per future handed out (given back with
 * its last reference) and one for the queued task; the block is freed at
 * 0. Bit WEFT__LIVE_PARTS: some future of the block has a box or
 * listeners, which the block's free frees. The count has a line of its
 * own: every release writes it, while the runner reads the source for
 * every future. */
#define WEFT__LIVE_PARTS (1ull << 63)
struct weft__bulk_live {
    _Atomic uint64_t live;
    char pad_[56];
};

static inline _Atomic uint64_t *weft__bulk_live(struct weft__source *src)
{
    return &((struct weft__bulk_live *)(void *)(src + 1))->live;
}

static inline weft_future *weft__bulk_future(struct weft__source *src, uint32_t i);

/* A future: 64 bytes, whatever made it. Only the state word, the listener
 * stacks and refs are shared; the rest is written by the one completer
 * ([FU1]) or before the future is shared. The rarer parts of an outcome
 * (an error object, destructors) live in a box allocated when a task sets
 * them (a promise's is in its source), flagged by WEFT_ST_BOXED. */
struct weft_future {
    _Atomic uint32_t state;      /* futex word, see WEFT_ST_* */
    _Atomic uint32_t refs;       /* handles (+ a single's runtime reference) */
    _Atomic uintptr_t listeners; /* callbacks (listeners.h) */
    _Atomic uintptr_t watchers;  /* wait-set links: same, prunable */
    weft__leap_hint thief;       /* the worker running the task, for waits */
    void *result;                /* the value, or (WEFT_ST_BOXED) its box */
    int status;
    uint32_t index;              /* position in its source's block */
    struct weft__source *src;
    void *arg;
};

/* True if f is one of a bulk block's futures (its source came with no
 * slab block of its own). */
static inline bool weft__future_in_block(const weft_future *f)
{
    return f->src->slab == NULL;
}

static inline weft_future *weft__bulk_future(struct weft__source *src, uint32_t i)
{
    return (weft_future *)(void *)((struct weft__bulk_live *)(void *)(src + 1) + 1) + i;
}


#define WEFT__ALLOW(phase) (1u << (phase))

/* The state, acquire: pairs with the completion ([WD1] in word.c), so a
 * done phase comes with its outcome. */
static inline uint32_t weft__future_state(const weft_future *f)
{
    return weft__word_load(&((weft_future *)f)->state);
}

/* True if f is a single task (weft_submit's) that is queued and
 * unstarted: neither started nor claimed by a canceller, so it is still
 * counted in its pool's life. acquire, as weft__future_state. A bulk
 * block's futures never qualify: the block runs on a worker in index
 * order and hands halves to workers that ask (bulk.c), so a waiter that
 * ran its own future in a borrowed place would race that worker for the
 * same futures, and hold the place a half would go to. */
static inline bool weft__future_unstarted(const weft_future *f)
{
    return f->src->pool != NULL && !weft__future_in_block(f) &&
           (weft__future_state(f) & (WEFT_ST_PHASE | WEFT_ST_CLAIMED)) == WEFT_PENDING;
}

/* A new future of pool (NULL: a promise) with refs references and a
 * source of its own (a single), or NULL when memory is short. Not shared
 * yet. */
weft_future *weft__future_new(struct weft_pool *pool, uint32_t refs);
/* Set up src for n futures of pool and future f as the
 * index-th of src with refs references. Neither is shared yet. */
void weft__source_init(struct weft__source *src, struct weft_pool *pool, uint32_t n);
void weft__future_init(weft_future *f, struct weft__source *src, uint32_t index, uint32_t refs);
/* Drop k of a bulk block's live counts; the last frees the block. Any
 * thread. */
void weft__source_put(struct weft__source *src, uint64_t k);
/* The outcome's box of f, made on first use (calloc): for the owner of the
 * outcome only (the running task, or the claimed completer). NULL when
 * memory is short. */
struct weft__outcome *weft__future_box(weft_future *f);
/* Give f the box o (f has none yet; the outcome's owner only). */
void weft__future_set_box(weft_future *f, struct weft__outcome *o);
/* Start f (PENDING -> RUNNING) and run its task on w, then complete it.
 * False if it was cancelled, claimed or started elsewhere. Owner of w. */
bool weft__future_start_run(weft_future *f, struct weft__worker *w);
/* A queue's worker w runs f's task (or, when the pool is broken or
 * cancelling, fails or cancels it), waits out a canceller completing it,
 * and frees the argument of a task that never started. */
void weft__future_run_queued(weft_future *f, struct weft__worker *w);
/* Cancel queued f unless it started or was done, and settle it as
 * weft__future_run_queued does. Any thread. */
void weft__future_cancel_queued(weft_future *f);
/* Complete a claimed f as failed by the library with status. */
void weft__future_fail_claimed(weft_future *f, int status);
/* Run f's argument destructor if f's task never started (f is done or
 * claimed, so that cannot change). */
void weft__future_drop_arg(weft_future *f);
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
