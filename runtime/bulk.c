/* Bulk submission (weft.h's weft_submit_bulk and weft_submit_range): n
 * futures made by one call, in one block, that enter the pool as one
 * queued task.
 *
 * The block is a source record (future.h), a line for its live count and
 * the n 64-byte futures; the count holds one unit per future whose handle
 * is held and one for the runtime, which the queued task gives back once
 * every future of the block was run or cancelled. So running a future writes
 * only that future's own line (its state word, result and status) and
 * takes no reference: completing one costs its state word's claim and
 * completion (future.c [FU2], [FU3]) and nothing shared.
 *
 * The queued task runs the futures in index order. When a thief asks for
 * work, it spawns the second half of what is left as a child (weft.h's
 * fork/join), which the request publishes at once, and takes it back if
 * nobody took it after all: nobody asks, and the whole block runs on one
 * worker for a load per future; idle workers ask, and each gets the
 * biggest half left, as a parallel loop's range is split (lazy binary
 * splitting). What runs above a spawned half runs as a frame of its own
 * (group.h, weft__run_marked): a wait in it must not run that half, which
 * may wait for it.
 *
 * A future of the block behaves as any other: a waiter may run it inline
 * before the runner reaches it (the runner's claim then fails and it
 * goes on), a cancel before it started means it never runs, and shutdown
 * with cancel drops a block still queued as a whole. The pool counts every
 * future as an accepted task ([PL1] in submit.c) and the runner gives the
 * counts back through its worker's credit. */
#include <stdint.h>

#include "alloc.h"
#include "future.h"
#include "group.h"
#include "scheduler.h"

/* Futures one call may make: the index fits a future's 32-bit field. */
#define BULK_MAX ((size_t)UINT32_MAX)

static const struct weft__task_ops bulk_ops;

/* Run future i of src on w and count it finished. */
static void run_future(struct weft__worker *w, struct weft__source *src, uint32_t i)
{
    weft__future_run_queued(weft__bulk_future(src, i), w);
    weft__task_finished(w);
}

/* A range of a block's futures: a half handed to a spawn, or the part
 * run in a frame of its own. */
struct range {
    struct weft__source *src;
    uint32_t lo, hi;
};

static void run_range(weft_ctx *ctx, struct weft__source *src, uint32_t lo, uint32_t hi);

static void range_call(struct weft__worker *w, void *arg)
{
    struct range *r = arg;
    run_range(&w->ctx, r->src, r->lo, r->hi);
}

/* Run [lo, hi) as a frame of its own (group.h, weft__run_marked): the
 * waits of its futures then reach none of the private children below,
 * such as the half this runner spawned, which may wait for them. */
static void run_range_marked(weft_ctx *ctx, struct weft__source *src, uint32_t lo, uint32_t hi)
{
    struct range r = {.src = src, .lo = lo, .hi = hi};
    weft__run_marked(ctx->worker, range_call, &r);
}

/* A half runs wherever its thief is, maybe in a frame with children of
 * its own below: in a frame of its own. */
static int half_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    struct range *h = arg;
    run_range_marked(ctx, h->src, h->lo, h->hi);
    return 0;
}

/* Run the futures [lo, hi) of src on ctx's worker, in index order. While
 * a thief asks for work (the spawn bound is lowered: weft.h, [LZ1] in
 * lazy.c), the second half of what is left is spawned, which hands it to
 * the thief, the first half runs in a frame of its own above it, and the
 * second is taken back when nobody took it; nobody asking, a future costs
 * one relaxed load more. */
static void run_range(weft_ctx *ctx, struct weft__source *src, uint32_t lo, uint32_t hi)
{
    struct weft__worker *w = ctx->worker;
    const struct weft__lazy *l = &ctx->lazy;
    while (lo < hi) {
        if (hi - lo > 1 && weft__bound(l) != l->end) {
            uint32_t mid = lo + (hi - lo) / 2;
            struct range h = {.src = src, .lo = mid, .hi = hi};
            weft_group g;
            weft_group_init(&g, ctx);
            if (weft_spawn(&g, half_task, &h, NULL) == WEFT_OK) {
                run_range_marked(ctx, src, lo, mid);
                if (weft_sync_take(&g, NULL) <= 0)
                    return; /* a thief ran the second half (half_task fails never) */
                lo = mid;   /* taken back: go on with it here */
                continue;
            }
            (void)weft_sync(&g); /* no room to spawn: the stack is full */
        }
        run_future(w, src, lo++);
    }
}

static void bulk_run(struct weft__task *t, struct weft__worker *w)
{
    struct weft__source *src = weft_container_of(t, struct weft__source, task);
    /* An independent task runs only from a worker's loop, never inside a
     * helping wait (task.h): nothing private lies below it. */
    run_range(&w->ctx, src, 0, src->n);
    weft__source_put(src, 1); /* the queued task's unit */
}

static uint64_t bulk_drop(struct weft__task *t)
{
    struct weft__source *src = weft_container_of(t, struct weft__source, task);
    uint32_t n = src->n;
    for (uint32_t i = 0; i < n; i++)
        weft__future_cancel_queued(weft__bulk_future(src, i));
    weft__source_put(src, 1); /* the queued task's unit */
    return n;
}

/* A block needs running as long as any of its futures is pending, which
 * only a walk over all of them could tell: say it does, and let its run
 * pass over the futures that are done (task.h: settled marks the task
 * independent; a helping wait leaves such a task queued). */
static bool bulk_settled(const struct weft__task *t)
{
    (void)t;
    return false;
}

static const struct weft__task_ops bulk_ops = {
    .run = bulk_run, .drop = bulk_drop, .settled = bulk_settled};

/* Make and queue a block of n futures of fn; args[i] (args non-NULL) or
 * first + i is future i's argument. */
static int submit_block(weft_pool *pool, weft_fn fn, void *const *args, size_t first, size_t n,
                        weft_dtor arg_dtor, weft_future **futures)
{
    size_t bytes = 2 * sizeof(weft_future) + n * sizeof(weft_future);
    struct weft__source *src = weft__block_alloc(bytes);
    if (src == NULL)
        return WEFT_ENOMEM;
    weft__source_init(src, pool, (uint32_t)n);
    src->task.ops = &bulk_ops;
    src->fn = fn;
    src->arg_dtor = arg_dtor;
    uint32_t refs = futures != NULL ? 1 : 0; /* the handle's */
    for (size_t i = 0; i < n; i++) {
        weft_future *f = weft__bulk_future(src, (uint32_t)i);
        weft__future_init(f, src, (uint32_t)i, refs);
        f->arg = args != NULL ? args[i] : (void *)(uintptr_t)(first + i);
    }
    /* live: one unit per handle (given back with the future's last
     * reference) and the queued task's. Not shared yet (relaxed); the
     * queue's insertion publishes the block. */
    atomic_store_explicit(weft__bulk_live(src), (futures != NULL ? (uint64_t)n : 0) + 1,
                          memory_order_relaxed);
    int rc = weft__pool_admit_n(pool, n);
    if (rc != WEFT_OK) {
        weft__block_free(src);
        return rc;
    }
    if (futures != NULL)
        for (size_t i = 0; i < n; i++)
            futures[i] = weft__bulk_future(src, (uint32_t)i);
    weft__pool_queue(pool, &src->task);
    return WEFT_OK;
}

/* Bad input, checked before anything is made. */
static int bulk_check(weft_pool *pool, weft_fn fn, size_t n)
{
    if (pool == NULL || fn == NULL || n > BULK_MAX)
        return WEFT_EINVAL;
    return WEFT_OK;
}

int weft_submit_bulk(weft_pool *pool, weft_fn fn, void *const *args, size_t n,
                     weft_dtor arg_dtor, weft_future **futures)
{
    int rc = bulk_check(pool, fn, n);
    if (rc == WEFT_OK && args == NULL && n > 0)
        rc = WEFT_EINVAL;
    if (rc == WEFT_OK && n > 0)
        rc = submit_block(pool, fn, args, 0, n, arg_dtor, futures);
    if (rc != WEFT_OK && arg_dtor != NULL && args != NULL && n <= BULK_MAX)
        for (size_t i = 0; i < n; i++)
            arg_dtor(args[i]);
    return rc;
}

int weft_submit_range(weft_pool *pool, weft_fn fn, size_t begin, size_t end,
                      weft_future **futures)
{
    if (end < begin)
        return WEFT_EINVAL;
    int rc = bulk_check(pool, fn, end - begin);
    if (rc != WEFT_OK || end == begin)
        return rc;
    return submit_block(pool, fn, NULL, begin, end - begin, NULL, futures);
}
