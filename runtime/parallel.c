/* Data parallelism by recursive binary splitting over fork/join:
 * parallel_for, parallel_map and parallel_reduce.
 *
 * Ordering and invariants
 *   [PF1] failed: the first failing chunk's status, set once by a CAS
 *         (acq_rel on success: the winner's status is what callers return);
 *         other chunks poll it relaxed and skip work once it is set - a
 *         stale read only runs one more chunk.
 *   [PF2] From a thread that is not a worker of the pool, the loop runs
 *         through weft__root_run: on that thread in a parked worker's place,
 *         or as a root job whose completion publishes every write the loop
 *         made (root.c [RT1]). */
#include <stdalign.h>
#include <stddef.h>
#include <string.h>

#include "group.h"
#include "root.h"

/* Chunks per worker targeted by the automatic grain. Enough that the last
 * chunks balance workers running at different speeds (vCPUs do): with 8,
 * the 10 M map ended with one worker idle for half a chunk (~0.3 ms of 5). */
#define AUTO_CHUNKS_PER_WORKER 32

struct loop {
    weft_range_fn body;
    void *ud;
    size_t grain;
    _Atomic int failed; /* [PF1] first failing status, 0 while none */
    /* reduction only */
    weft_fold_fn fold;
    weft_combine_fn combine;
    size_t size;
    const void *identity;
};

struct range {
    struct loop *lp;
    size_t lo, hi;
    void *acc; /* reduction partial, or NULL */
};

static bool loop_failed(struct loop *lp)
{
    /* [PF1] relaxed: a hint to skip work. */
    return atomic_load_explicit(&lp->failed, memory_order_relaxed) != 0;
}

static void loop_fail(struct loop *lp, int status)
{
    int expected = 0;
    /* [PF1] acq_rel on success; relaxed on failure (someone failed first). */
    atomic_compare_exchange_strong_explicit(&lp->failed, &expected, status,
                                            memory_order_acq_rel, memory_order_relaxed);
}

static int leaf(weft_ctx *ctx, struct range *r)
{
    struct loop *lp = r->lp;
    int rc = lp->fold ? lp->fold(ctx, r->lo, r->hi, r->acc, lp->ud)
                      : lp->body(ctx, r->lo, r->hi, lp->ud);
    if (rc != 0)
        loop_fail(lp, weft__task_status_of(rc));
    return rc;
}

static int split(weft_ctx *ctx, void *arg, void **result);

/* Split [lo, hi) in two: the right half is spawned (stealable), the left
 * runs here; for reductions the right half folds into a fresh partial that
 * is combined into ours afterwards, keeping index order. */
static int split_two(weft_ctx *ctx, struct range *r)
{
    struct loop *lp = r->lp;
    size_t mid = r->lo + (r->hi - r->lo) / 2;
    alignas(max_align_t) unsigned char right_acc[WEFT_REDUCE_MAX];
    struct range right = {.lp = lp, .lo = mid, .hi = r->hi, .acc = NULL};
    if (lp->fold) {
        memcpy(right_acc, lp->identity, lp->size);
        right.acc = right_acc;
    }
    struct range left = {.lp = lp, .lo = r->lo, .hi = mid, .acc = r->acc};
    weft_group g;
    weft_group_init(&g, ctx);
    if (weft__spawn_eager(&g, split, &right, NULL) != WEFT_OK)
        split(ctx, &right, NULL); /* a full spawn stack: run it here */
    void *ignored = NULL;
    split(ctx, &left, &ignored);
    (void)weft_sync(&g); /* failures are in lp; a failed spawn ran here */
    if (lp->fold && !loop_failed(lp))
        lp->combine(r->acc, right_acc, lp->ud);
    return 0;
}

static int split(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    struct range *r = arg;
    if (loop_failed(r->lp))
        return 0;
    if (r->hi - r->lo <= r->lp->grain)
        return leaf(ctx, r);
    return split_two(ctx, r);
}

/* The whole loop from the calling thread, as (or in the place of) w. */
static void run_on(struct weft__worker *w, struct range *r)
{
    weft_future *outer = weft__ctx_swap(w, NULL);
    split(&w->ctx, r, NULL);
    weft__ctx_swap(w, outer);
}

/* root.c's form of run_on. */
static void run_root(struct weft__worker *w, void *arg)
{
    run_on(w, arg);
}

static int run_loop(struct weft_pool *p, struct loop *lp, size_t begin, size_t end, void *acc)
{
    size_t n = end - begin;
    if (lp->grain == 0) {
        size_t chunks = (size_t)p->n * AUTO_CHUNKS_PER_WORKER;
        lp->grain = n / chunks ? n / chunks : 1;
    }
    atomic_init(&lp->failed, 0);
    struct range r = {.lp = lp, .lo = begin, .hi = end, .acc = acc};
    int rc = weft__root_run(p, run_root, &r);
    if (rc != WEFT_OK)
        return rc;
    /* [PF1] acquire: pairs with the winning CAS (also ordered by the sync
     * and [PF2] edges; stated for clarity). */
    int failed = atomic_load_explicit(&lp->failed, memory_order_acquire);
    return failed == 0 ? WEFT_OK : weft__task_failed(failed);
}

int weft_parallel_for(weft_pool *pool, weft_range_fn body, void *ud, size_t begin, size_t end,
                      size_t grain)
{
    if (pool == NULL || body == NULL || end < begin)
        return WEFT_EINVAL;
    if (begin == end)
        return WEFT_OK;
    struct loop lp = {.body = body, .ud = ud, .grain = grain};
    return run_loop(pool, &lp, begin, end, NULL);
}

struct map_args {
    const char *in;
    size_t in_stride;
    char *out;
    size_t out_stride;
    weft_elem_fn fn;
    void *ud;
};

/* The arguments live in locals: read through m, they would be reloaded
 * after every (opaque) call. The addresses are formed from i, so none
 * points past the buffers after the last item. */
static int map_range(weft_ctx *ctx, size_t lo, size_t hi, void *ud)
{
    const struct map_args *m = ud;
    const weft_elem_fn fn = m->fn;
    const size_t is = m->in_stride, os = m->out_stride;
    const char *const in = m->in;
    char *const out = m->out;
    void *const fn_ud = m->ud;
    for (size_t i = lo; i < hi; i++) {
        int rc = fn(ctx, in + i * is, out + i * os, fn_ud);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int weft_parallel_map(weft_pool *pool, weft_elem_fn fn, void *ud, const void *in,
                      size_t in_stride, void *out, size_t out_stride, size_t n, size_t grain)
{
    if (pool == NULL || fn == NULL || (n > 0 && (in == NULL || out == NULL)))
        return WEFT_EINVAL;
    struct map_args m = {in, in_stride, out, out_stride, fn, ud};
    return weft_parallel_for(pool, map_range, &m, 0, n, grain);
}

int weft_parallel_reduce(weft_pool *pool, weft_fold_fn body, weft_combine_fn combine, void *ud,
                         size_t begin, size_t end, size_t grain, void *result, size_t size)
{
    if (pool == NULL || result == NULL || body == NULL || combine == NULL || end < begin ||
        size == 0 || size > WEFT_REDUCE_MAX)
        return WEFT_EINVAL;
    if (begin == end)
        return WEFT_OK;
    alignas(max_align_t) unsigned char identity[WEFT_REDUCE_MAX];
    memcpy(identity, result, size);
    struct loop lp = {.fold = body, .combine = combine, .ud = ud, .grain = grain,
                      .size = size, .identity = identity};
    return run_loop(pool, &lp, begin, end, result);
}
