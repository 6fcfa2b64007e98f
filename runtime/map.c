/* weft_map: concurrent.futures' Executor.map over arrays, with bounded
 * memory, a deadline and first-failure reporting.
 *
 * Shape. The n items are cut into chunks of `chunk` consecutive items; each
 * chunk is one submitted task with its future. At most W = max_in_flight
 * chunk futures exist at once, in a ring of W slots: the call submits a
 * window of W chunks, waits for the oldest, collects it, and submits the next
 * chunk into the freed slot. Memory is O(W) whatever n is (Python's
 * Executor.map submits every item eagerly; 3.14's buffersize is the same
 * window idea per item). Waiting on the oldest rather than on any chunk keeps
 * collection in input order, which is what makes failure reporting exact.
 *
 * Failures. Items of a chunk run in order and a chunk stops at its first
 * failing item. The lowest failing index seen so far is shared as a hint
 * (fail_min): chunks skip items after it, and once the caller sees it, it
 * submits nothing more and asks the outstanding chunks that begin after it
 * to stop. Chunks before it keep running, and chunks are collected in
 * order, so every chunk before the reported one ran in full: the reported
 * index is the lowest failing item of the whole input, and
 * out[0, *failed_index) holds results (unless the deadline or a shutdown
 * cut the call short as well, which may have stopped earlier chunks).
 *
 * Stopping for good (failure collected, deadline, shutdown, submit error).
 * No more chunks are submitted; every outstanding chunk gets
 * weft_future_request_cancel: chunks not started are cancelled outright,
 * running ones see weft_ctx_cancel_requested() and stop at their next item
 * boundary. The call then waits for them without a deadline, because they
 * write into out: when weft_map returns, no task of the call is running or
 * will run.
 *
 * Ordering and invariants
 *   [MP1] Chunk outcome: the chunk task writes its slot (stop, status, ran)
 *         with plain stores before returning; the future's completion
 *         publishes them (future.c [FU1], wait.c [WT1]) and the caller reads
 *         the slot only after weft__future_wait returned WEFT_OK (acquire).
 *         The results in out are published to the caller the same way.
 *   [MP2] fail_min: lowered by a relaxed CAS-min, read relaxed. It is only a
 *         hint that lets chunks skip work after a known failure; the reported
 *         index comes from the slots [MP1], so it needs no ordering.
 *   Lifetime: the call returns only once every submitted chunk future is
 *   done. A chunk cancelled before it started never runs chunk_task, and
 *   arg_dtor is NULL, so the ring, the call state and out outlive every
 *   access by a task. */
#include <stdlib.h>
#include <string.h>

#include "futex.h"
#include "future.h"
#include "pool.h"

/* Automatic sizing: about 8 chunks per worker, and 64 chunks in flight per
 * worker, so that workers stay busy while the caller collects. With 4 in
 * flight, tiny chunks (chunk = 1) drained faster than the caller refilled
 * them: workers parked and were woken every few items, and 1 M items took
 * 0.1 to 6 s. 64 futures cost about 8 KiB per worker. */
#define AUTO_CHUNKS_PER_WORKER 8
#define DEFAULT_IN_FLIGHT_PER_WORKER 64

struct map_call {
    weft_elem_fn fn;
    void *ud;
    const char *in;
    size_t in_stride;
    char *out;
    size_t out_stride;
    _Atomic size_t fail_min; /* [MP2] lowest failing item seen, SIZE_MAX if none */
};

/* One chunk in flight. Fields after `f` are written by the chunk task. */
struct map_slot {
    struct map_call *call;
    weft_future *f;
    size_t begin, end; /* items [begin, end) */
    size_t stop;       /* first item not completed [MP1] */
    int status;        /* item `stop`'s status if it failed, else 0 */
    bool ran;          /* chunk_task ran (not cancelled, pool not broken) */
};

struct map_run {
    weft_pool *pool;
    struct map_call call;
    struct map_slot *ring;
    size_t cap;     /* ring slots (W) */
    size_t n, chunk, nchunks;
    size_t head;    /* oldest outstanding chunk */
    size_t next;    /* next chunk to submit; [head, next) are outstanding */
    size_t cancel_mark; /* chunks beginning at or after this item were asked to stop */
    bool no_more;   /* submit nothing more */
    bool stopping;  /* every outstanding chunk was asked to stop: wait without deadline */
    const struct timespec *deadline;
    int err;        /* first error that is not an item failure */
    bool failed;    /* an item failed: fail_at, fail_status */
    size_t fail_at;
    int fail_status;
};

/* ---- the chunk task ---- */

static size_t fail_min_load(struct map_call *c)
{
    /* [MP2] relaxed: a hint only. */
    return atomic_load_explicit(&c->fail_min, memory_order_relaxed);
}

static void fail_min_lower(struct map_call *c, size_t i)
{
    /* [MP2] relaxed: a hint only; the CAS loop keeps the minimum. */
    size_t cur = atomic_load_explicit(&c->fail_min, memory_order_relaxed);
    while (i < cur && !atomic_compare_exchange_weak_explicit(&c->fail_min, &cur, i,
                                                             memory_order_relaxed,
                                                             memory_order_relaxed)) {
    }
}

static int chunk_task(weft_ctx *ctx, void *arg, void **result)
{
    struct map_slot *s = arg;
    struct map_call *c = s->call;
    size_t i = s->begin;
    int status = 0;
    (void)result;
    for (; i < s->end; i++) {
        if (weft_ctx_cancel_requested(ctx) || i > fail_min_load(c))
            break;
        status = c->fn(ctx, c->in + i * c->in_stride, c->out + i * c->out_stride, c->ud);
        if (status != 0) {
            fail_min_lower(c, i);
            break;
        }
    }
    /* [MP1]: published by the future's completion. */
    s->stop = i;
    s->status = status;
    s->ran = true;
    return status;
}

/* ---- the caller's side ---- */

static void note_error(struct map_run *r, int rc)
{
    if (r->err == WEFT_OK)
        r->err = rc;
}

static void note_failure(struct map_run *r, size_t index, int status)
{
    if (!r->failed || index < r->fail_at) {
        r->failed = true;
        r->fail_at = index;
        r->fail_status = status;
    }
}

static struct map_slot *slot_of(struct map_run *r, size_t chunk_no)
{
    return &r->ring[chunk_no % r->cap];
}

/* Ask the outstanding chunks that begin at or after item `from` to stop:
 * not started ones are cancelled, running ones stop at an item boundary.
 * Only called once submissions ended, so the asked chunks are exactly those
 * with begin >= cancel_mark, and each is asked once. */
static void cancel_from(struct map_run *r, size_t from)
{
    if (from >= r->cancel_mark)
        return;
    for (size_t j = r->head; j < r->next; j++) {
        struct map_slot *s = slot_of(r, j);
        if (s->begin >= from && s->begin < r->cancel_mark)
            (void)weft_future_request_cancel(s->f);
    }
    r->cancel_mark = from;
}

/* Stop for good: nothing more is submitted, every outstanding chunk is
 * asked to stop, and the remaining waits have no deadline. */
static void stop_all(struct map_run *r)
{
    r->no_more = true;
    r->stopping = true;
    cancel_from(r, 0);
}

static void submit_next(struct map_run *r)
{
    struct map_slot *s = slot_of(r, r->next);
    s->call = &r->call;
    s->begin = r->next * r->chunk;
    s->end = s->begin + r->chunk < r->n ? s->begin + r->chunk : r->n;
    s->stop = s->begin;
    s->status = 0;
    s->ran = false;
    int rc = weft_submit(r->pool, chunk_task, s, NULL, &s->f);
    if (rc != WEFT_OK) {
        note_error(r, rc);
        stop_all(r);
        return;
    }
    r->next++;
}

/* Submit until the window is full. A failure seen through the hint ends
 * submissions and stops the chunks after it; chunks before it keep running
 * (they may hold a lower failure, and their results are promised). The
 * deadline is checked here too: a waited-on chunk that is already done (a
 * helping worker ran it inline) never reaches the deadline in the wait. */
static void fill_window(struct map_run *r)
{
    size_t fm = fail_min_load(&r->call);
    if (fm != SIZE_MAX) {
        r->no_more = true;
        cancel_from(r, fm + 1);
    }
    if (!r->no_more && r->next < r->nchunks && r->deadline != NULL &&
        weft__deadline_passed(r->deadline)) {
        note_error(r, WEFT_ETIMEDOUT);
        stop_all(r);
    }
    while (!r->no_more && r->next < r->nchunks && r->next - r->head < r->cap)
        submit_next(r);
}

/* Read the oldest chunk's outcome (its future is done) and free its slot. */
static void collect_oldest(struct map_run *r)
{
    struct map_slot *s = slot_of(r, r->head);
    bool asked = s->begin >= r->cancel_mark;
    if (weft_future_cancelled(s->f)) {
        if (!asked)
            note_error(r, WEFT_ESHUTDOWN); /* shutdown(CANCEL) dropped it */
    } else if (!s->ran) {
        note_error(r, weft_future_result(s->f, 0, NULL)); /* WEFT_EBROKEN */
    } else if (s->status != 0) {
        note_failure(r, s->stop, s->status);
    } else if (s->stop < s->end && !asked) {
        /* Stopped early, not by us: shutdown(CANCEL). (A chunk that skipped
         * its items for an earlier failure is only collected after that
         * failure, and then everything was asked to stop.) */
        note_error(r, WEFT_ESHUTDOWN);
    }
    weft_future_release(s->f);
    r->head++;
    if (r->failed || r->err != WEFT_OK)
        stop_all(r);
}

static void run_chunks(struct map_run *r)
{
    for (;;) {
        fill_window(r);
        if (r->head == r->next)
            return;
        weft_future *f = slot_of(r, r->head)->f;
        /* Once stopping, wait without a deadline: started chunks write out. */
        if (weft__future_wait(f, r->stopping ? NULL : r->deadline) != WEFT_OK) {
            note_error(r, WEFT_ETIMEDOUT);
            stop_all(r);
            continue;
        }
        collect_oldest(r);
    }
}

/* ---- options and entry point ---- */

void weft_map_options_init(weft_map_options *o)
{
    if (o == NULL)
        return;
    memset(o, 0, sizeof(*o));
    o->struct_size = sizeof(*o);
    o->timeout_ns = WEFT_FOREVER;
}

static int read_options(weft_map_options *o, const weft_map_options *user)
{
    weft_map_options_init(o);
    if (user == NULL)
        return WEFT_OK;
    if (user->struct_size < offsetof(weft_map_options, reserved) || user->struct_size > sizeof(*o))
        return WEFT_EINVAL;
    memcpy(o, user, user->struct_size);
    for (size_t i = 0; i < sizeof(o->reserved) / sizeof(o->reserved[0]); i++)
        if (o->reserved[i] != 0)
            return WEFT_EINVAL;
    return WEFT_OK;
}

/* Chunk size and window from the options and the pool size. */
static void plan(struct map_run *r, const weft_map_options *o)
{
    size_t workers = weft_pool_size(r->pool);
    if (workers == 0)
        workers = 1;
    r->chunk = o->chunk;
    if (r->chunk == 0)
        r->chunk = r->n / (AUTO_CHUNKS_PER_WORKER * workers);
    if (r->chunk == 0)
        r->chunk = 1;
    r->nchunks = r->n / r->chunk + (r->n % r->chunk != 0);
    r->cap = o->max_in_flight ? o->max_in_flight : DEFAULT_IN_FLIGHT_PER_WORKER * workers;
    if (r->cap > r->nchunks)
        r->cap = r->nchunks;
}

static int finish(struct map_run *r, size_t *failed_index)
{
    free(r->ring);
    if (r->failed) {
        if (failed_index != NULL)
            *failed_index = r->fail_at;
        return r->fail_status;
    }
    return r->err;
}

/* A zero in_stride broadcasts one input to every item. out_stride may be 0
 * only for n <= 1 (items would race on one output). An item failure takes
 * precedence over a timeout or shutdown that happened meanwhile: when
 * *failed_index was written, the return value is that item's status (which
 * may itself be any code, e.g. WEFT_ETIMEDOUT returned by fn). */
int weft_map(weft_pool *pool, weft_elem_fn fn, void *ud, const void *in, size_t in_stride,
             void *out, size_t out_stride, size_t n, const weft_map_options *opts,
             size_t *failed_index)
{
    struct timespec dl;
    weft_map_options o;
    if (pool == NULL || fn == NULL || read_options(&o, opts) != WEFT_OK)
        return WEFT_EINVAL;
    if (n > 0 && (in == NULL || out == NULL || (out_stride == 0 && n > 1)))
        return WEFT_EINVAL;
    bool has_dl = weft__deadline_in(&dl, o.timeout_ns);
    if (n == 0)
        return WEFT_OK;
    struct map_run r = {.pool = pool, .n = n, .deadline = has_dl ? &dl : NULL,
                        .cancel_mark = SIZE_MAX};
    r.call.fn = fn;
    r.call.ud = ud;
    r.call.in = in;
    r.call.in_stride = in_stride;
    r.call.out = out;
    r.call.out_stride = out_stride;
    /* relaxed: published to the chunks by their submission. */
    atomic_store_explicit(&r.call.fail_min, SIZE_MAX, memory_order_relaxed);
    plan(&r, &o);
    r.ring = calloc(r.cap, sizeof(*r.ring));
    if (r.ring == NULL)
        return WEFT_ENOMEM;
    run_chunks(&r);
    return finish(&r, failed_index);
}
