/* Data parallelism by recursive binary splitting over fork/join:
 * parallel_for, parallel_map and parallel_reduce.
 *
 * Ordering and invariants
 *   [PF1] failed: the first failing chunk's status, set once by a CAS
 *         (acq_rel on success: the winner's status is what callers return);
 *         other chunks poll it relaxed and skip work once it is set - a
 *         stale read only runs one more chunk.
 *   [PF2] From a thread that is not a worker of the pool, the loop runs on
 *         that thread in a parked worker's place (borrow.c); with none
 *         parked, the root job is accepted like a submitted task and the
 *         caller sleeps on its completion word (word.c [WD1] publishes the
 *         status and every write the loop made). */
#include <stdalign.h>
#include <stddef.h>
#include <string.h>

#include "group.h"
#include "scheduler.h"

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
        loop_fail(lp, rc);
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
    weft_child c;
    weft__group_init_eager(&g, ctx);
    if (weft_spawn(&g, &c, split, &right) != WEFT_OK)
        split(ctx, &right, NULL); /* cannot happen on a worker; stay correct */
    void *ignored = NULL;
    split(ctx, &left, &ignored);
    weft_sync(&g);
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
    struct weft_ctx ctx = weft__ctx_make(w, NULL);
    split(&ctx, r, NULL);
}

/* Root job for calls from threads that are not workers of the pool, when
 * no worker is parked for them to run in the place of. */
struct root {
    struct weft__task task;
    _Atomic uint32_t word;
    struct range r;
};

static void root_run(struct weft__task *t, struct weft__worker *w)
{
    struct root *root = weft_container_of(t, struct root, task);
    run_on(w, &root->r);
    /* [PF2] publishes the loop's writes; root may vanish right after. */
    weft__word_complete(&root->word, WEFT_FINISHED);
    weft__task_finished(w);
}

/* Queued, a root job is never settled: only a worker runs it. */
static bool root_settled(const struct weft__task *t)
{
    (void)t;
    return false;
}

/* A root job is an independent task that shutdown does not drop (its
 * caller waits for it: the call was accepted). */
static const struct weft__task_ops root_ops = {.run = root_run, .settled = root_settled};

/* From a thread that is no worker of p: run the loop in a parked worker's
 * place if one is parked (borrow.c), else as a queued root job [PF2]. */
static int run_external(struct weft_pool *p, struct range *r)
{
    struct weft__borrow b;
    int rc = weft__borrow_begin(p, &b);
    if (rc == WEFT_OK) {
        run_on(b.w, r);
        weft__borrow_end(&b);
        return WEFT_OK;
    }
    if (rc != WEFT_EAGAIN)
        return rc;
    struct root root = {.task = {.ops = &root_ops}, .r = *r};
    atomic_init(&root.word, WEFT_PENDING);
    rc = weft__pool_accept(p, &root.task);
    if (rc != WEFT_OK)
        return rc;
    weft__word_wait(&root.word, NULL);
    return WEFT_OK;
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
    struct weft__worker *w = weft__self;
    if (w != NULL && w->pool == p) {
        run_on(w, &r);
    } else {
        int rc = run_external(p, &r);
        if (rc != WEFT_OK)
            return rc;
    }
    /* [PF1] acquire: pairs with the winning CAS (also ordered by the sync
     * and [PF2] edges; stated for clarity). */
    return atomic_load_explicit(&lp->failed, memory_order_acquire);
}

int weft_parallel_for(weft_pool *pool, size_t begin, size_t end, size_t grain,
                      weft_range_fn body, void *ud)
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

int weft_parallel_map(weft_pool *pool, const void *in, size_t in_stride, void *out,
                      size_t out_stride, size_t n, size_t grain, weft_elem_fn fn, void *ud)
{
    if (pool == NULL || fn == NULL || (n > 0 && (in == NULL || out == NULL)))
        return WEFT_EINVAL;
    struct map_args m = {in, in_stride, out, out_stride, fn, ud};
    return weft_parallel_for(pool, 0, n, grain, map_range, &m);
}

int weft_parallel_reduce(weft_pool *pool, size_t begin, size_t end, size_t grain, void *result,
                         size_t size, weft_fold_fn body, weft_combine_fn combine, void *ud)
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
