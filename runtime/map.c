/* weft_map: concurrent.futures' Executor.map over arrays, with bounded
 * memory, a deadline, items that start in input order, and first-failure
 * reporting.
 *
 * Tasks and tickets. The n items are cut into nchunks chunks of `chunk`
 * consecutive items; chunk k is ticket k. The call submits chunk tasks, each
 * with its future, but a task is not bound to a chunk when it is submitted:
 * when it starts, it claims the lowest ticket nobody claimed yet from the
 * shared counter `claims` and runs that chunk's items in order. Whichever
 * order the pool starts the tasks in (LIFO deques, batches taken from the
 * injection queue, a helping wait that runs a task inline), chunks start in
 * input order, and so do items on one worker; workers running in parallel
 * start their chunks in claim order. Each task claims at most one ticket.
 *
 * Window. A ring of W = max_in_flight task records holds the submitted tasks
 * the caller has not retired; a second ring of W holds the outcome of each
 * claimed ticket until it is collected. The caller waits for the oldest
 * submitted task, retires it (its record names the ticket it claimed and
 * that ticket's outcome), then collects finished tickets in ticket order,
 * and submits another task only while fewer than W tasks are unretired and
 * fewer than W tickets are uncollected (submitted - collected < W). Every
 * claimed ticket belongs to a submitted task, so at most W tickets, i.e. at
 * most W * chunk items, are started and not collected at any time, and item
 * i starts only once items [0, i - W * chunk] have returned. Memory is O(W)
 * whatever n is (Python's Executor.map submits every item eagerly; 3.14's
 * buffersize is the same window idea per item). With default options the
 * plan keeps W * chunk <= WINDOW_PER_WORKER * workers (see plan()).
 *
 * Failures. A chunk stops at its first failing item, lowers the hint
 * fail_min to that index, and closes the claim counter: a task that starts
 * after the close claims no ticket and runs nothing, so no item after the
 * failure starts once it happened, except in chunks already claimed by then
 * (running in parallel), which skip their items after the hint. Every chunk
 * before the failing one was claimed before it and runs in full (or up to a
 * lower failure of its own). The caller stops submitting as soon as it sees
 * the hint, and reports failures when it collects them, in ticket order: the
 * first failure collected is the lowest failing index of the whole input,
 * and out[0, *failed_index) holds results (unless the deadline or a
 * shutdown cut the call short as well, which may have stopped earlier
 * chunks).
 *
 * Stopping for good (failure collected, deadline, shutdown, submit error).
 * No more tasks are submitted, the claim counter is closed, and every
 * unretired task gets weft_future_request_cancel: tasks not started are
 * cancelled outright, running ones see weft_ctx_cancel_requested() and stop
 * at their next item boundary. (The caller never cancels on the hint alone:
 * it cannot tell which running task holds a chunk before the failure.) The
 * call then waits for them without a deadline, because they write into out:
 * when weft_map returns, no task of the call is running or will run.
 *
 * Ordering and invariants
 *   [MP1] Task outcome: the chunk task writes its record (ticket, stop,
 *         status, cut, ran) with plain stores before returning; the future's
 *         completion publishes them (future.c [FU1], word.c [WD1]) and the
 *         caller reads the record only after weft__future_wait returned
 *         WEFT_OK (acquire). The results in out are published to the caller
 *         the same way. The ticket ring and `asked` are the caller's own.
 *   [MP2] fail_min: lowered by a relaxed CAS-min, read relaxed. It is only a
 *         hint that lets chunks skip work after a known failure and the
 *         caller stop submitting; the reported index comes from the records
 *         [MP1], so it needs no ordering.
 *   [MP3] claims: the next ticket, plus CLAIMS_CLOSED once the call stopped
 *         or an item failed. Claimed by an acq_rel fetch_add, closed by a
 *         relaxed fetch_or. Both are read-modify-writes of one location, so
 *         they are totally ordered (its modification order): tickets are
 *         unique and handed out in increasing order, and every claim after
 *         the close sees it. The acq_rel claims form one release sequence,
 *         so each claim happens after every earlier claim and what preceded
 *         it. weft_map needs no more than the order; the iterator
 *         (mapiter.c) reuses ring slots and needs the chain: the claim of
 *         ticket t and the t claims before it are made by t + 1 distinct
 *         tasks, of which one was submitted as task t or later (task
 *         numbers count from 0), after the caller wrote ticket t's input slot and had read
 *         ticket t - W's results from its output slot (the window). So
 *         those writes and reads happen before the claimer's accesses to
 *         the slot, whichever task claims it.
 *   [MP4] n: the item count, set before the first submission, or by the
 *         iterator when its input callback ends, before it submits the task
 *         of the last (partial) chunk. Relaxed: only the claimer of the last
 *         chunk needs the final value, and [MP3] orders the store before
 *         that claim; the other chunks are full whichever value they read.
 *   Window: submitted <= released + W at all times (can_submit), where a
 *   released ticket's slots are free (weft_map releases a ticket when it
 *   collects it; the iterator when the caller has taken its items), and
 *   each submitted task claims at most one ticket, so claimed tickets stay
 *   below released + W: the rings never hold two live tickets in one slot,
 *   and the items bound above holds.
 *   Lifetime: the call returns only once every submitted task's future is
 *   done. A task cancelled before it started never runs chunk_task, and
 *   arg_dtor is NULL, so the rings, the call state and out outlive every
 *   access by a task. */
#include <stdalign.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "futex.h"
#include "map.h"
#include "scheduler.h"

/* Default plan. The automatic chunk is n / (8 * workers) items, but at
 * most WEFT__MAP_AUTO_CHUNK_MAX, so that the window stays small while a
 * task's own cost (a future, a queue push, a completion, the caller's
 * retire: about a microsecond here) stays small next to thousands of tiny
 * items. The default window is WINDOW_PER_WORKER items per worker cut into
 * chunks: W = WINDOW_PER_WORKER * workers / chunk tasks, at least 2 per
 * worker (each worker has a next task while the caller retires one) and at
 * most 64 (for tiny explicit chunks such as 1: enough that the workers do
 * not drain the window between the caller's refills and park; 64 futures
 * cost about 8 KiB per worker). With both defaults, chunk <=
 * WEFT__MAP_AUTO_CHUNK_MAX makes W at least 8 per worker, so chunk * W <=
 * WINDOW_PER_WORKER * workers holds exactly (the bound weft.h states). */
#define WINDOW_PER_WORKER 32768
#define AUTO_CHUNKS_PER_WORKER 8
#define IN_FLIGHT_MIN_PER_WORKER 2
#define IN_FLIGHT_MAX_PER_WORKER 64

#define CLAIMS_CLOSED ((uint64_t)1 << 63)

/* ---- the chunk task ---- */

void weft__map_call_init(struct map_call *c, size_t n)
{
    /* relaxed, [MP2] [MP3] [MP4]: published to the chunk tasks by their
     * submission. */
    atomic_store_explicit(&c->n, n, memory_order_relaxed);
    atomic_store_explicit(&c->claims, 0, memory_order_relaxed);
    atomic_store_explicit(&c->fail_min, SIZE_MAX, memory_order_relaxed);
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

/* Take the lowest unclaimed ticket; false once the claims are closed. */
static bool claim_ticket(struct map_call *c, size_t *ticket)
{
    /* [MP3] acq_rel: the read-modify-write's place in the counter's
     * modification order makes the ticket unique and in order, and shows a
     * close that precedes it there. Acquire and release chain every claim
     * after all earlier ones (each reads the one before it), which is what
     * carries the caller's writes for a ring slot to whichever task claims
     * its ticket (see [MP3]). Tickets stay below the submitted tasks, far
     * from CLAIMS_CLOSED. */
    uint64_t v = atomic_fetch_add_explicit(&c->claims, 1, memory_order_acq_rel);
    if (v & CLAIMS_CLOSED)
        return false;
    *ticket = (size_t)v;
    return true;
}

static void close_claims(struct map_call *c)
{
    /* [MP3] relaxed: every claim after this in the counter's modification
     * order sees the bit and claims nothing; pairs with claim_ticket. A
     * relaxed read-modify-write continues the claims' release sequence. */
    atomic_fetch_or_explicit(&c->claims, CLAIMS_CLOSED, memory_order_relaxed);
}

/* Run the items of ticket k in order, up to a failure, a cancellation
 * request, or an item after a known failure. */
static void run_chunk(weft_ctx *ctx, struct map_task *t, size_t k)
{
    struct map_call *c = t->call;
    size_t first = k * c->chunk;
    /* [MP4] relaxed: the claim chain orders the write of a final count
     * before the claim of the last chunk; earlier chunks are full whichever
     * value they read. */
    size_t n = atomic_load_explicit(&c->n, memory_order_relaxed);
    size_t end = n - first > c->chunk ? first + c->chunk : n;
    const char *in = c->in + (c->in_wrap ? first % c->in_wrap : first) * c->in_stride;
    char *out = c->out + (c->out_wrap ? first % c->out_wrap : first) * c->out_stride;
    size_t i = first;
    int status = 0;
    for (; i < end; i++, in += c->in_stride, out += c->out_stride) {
        if (weft_ctx_cancel_requested(ctx)) {
            t->cut = true;
            break;
        }
        if (i > weft__map_fail_hint(c))
            break;
        status = c->fn(ctx, in, out, c->ud);
        if (status != 0) {
            status = weft__task_status_of(status);
            fail_min_lower(c, i);
            close_claims(c);
            break;
        }
    }
    /* [MP1]: published by the future's completion. */
    t->stop = i;
    t->status = status;
}

static int chunk_task(weft_ctx *ctx, void *arg, void **result)
{
    struct map_task *t = arg;
    size_t k;
    (void)result;
    if (claim_ticket(t->call, &k)) {
        t->ticket = k;
        run_chunk(ctx, t, k);
    }
    t->ran = true; /* [MP1] */
    return t->status;
}

/* ---- the caller's side ---- */

void weft__map_note_error(struct map_run *r, int rc)
{
    if (r->err == WEFT_OK)
        r->err = rc;
}

static struct map_task *task_of(struct map_run *r, size_t k)
{
    return &r->ring[k % r->cap].task;
}

static struct map_ticket *ticket_of(struct map_run *r, size_t k)
{
    return &r->ring[k % r->cap].ticket;
}

void weft__map_stop_all(struct map_run *r)
{
    r->no_more = true;
    if (r->stopping)
        return;
    r->stopping = true;
    close_claims(&r->call);
    for (size_t k = r->retired; k < r->submitted; k++) {
        struct map_task *t = task_of(r, k);
        t->asked = true;
        (void)weft_future_request_cancel(t->f);
    }
}

void weft__map_submit_next(struct map_run *r)
{
    struct map_task *t = task_of(r, r->submitted);
    *t = (struct map_task){.call = &r->call, .ticket = WEFT__MAP_NO_TICKET};
    int rc = weft_submit(r->pool, chunk_task, t, NULL, &t->f);
    if (rc != WEFT_OK) {
        weft__map_note_error(r, rc);
        weft__map_stop_all(r);
        return;
    }
    r->submitted++;
}

bool weft__map_can_submit(const struct map_run *r)
{
    return !r->no_more && r->submitted < r->nchunks && r->submitted - r->retired < r->cap &&
           r->submitted - r->released < r->cap;
}

/* Submit until the window is full. A failure seen through the hint ends
 * submissions; the chunks before it keep running (they may hold a lower
 * failure, and their results are promised). The deadline is checked here
 * too: a waited-on task that is already done (a helping worker ran it
 * inline) never reaches the deadline in the wait. */
static void fill_window(struct map_run *r)
{
    if (weft__map_fail_hint(&r->call) != SIZE_MAX)
        r->no_more = true;
    if (!r->no_more && r->submitted < r->nchunks && r->deadline != NULL &&
        weft__deadline_passed(r->deadline)) {
        weft__map_note_error(r, WEFT_ETIMEDOUT);
        weft__map_stop_all(r);
    }
    while (weft__map_can_submit(r))
        weft__map_submit_next(r);
}

/* Read the oldest task's record (its future is done), keep its ticket's
 * outcome for collection, and free its slot. */
static void retire_oldest(struct map_run *r)
{
    struct map_task *t = task_of(r, r->retired);
    if (weft_future_cancelled(t->f)) {
        if (!t->asked)
            weft__map_note_error(r, WEFT_ESHUTDOWN); /* shutdown(CANCEL) dropped it */
    } else if (!t->ran) {
        weft__map_note_error(r, weft_future_result(t->f, 0, NULL)); /* WEFT_EBROKEN */
    } else {
        if (t->cut && !t->asked)
            weft__map_note_error(r, WEFT_ESHUTDOWN); /* shutdown(CANCEL) stopped it */
        if (t->ticket != WEFT__MAP_NO_TICKET)
            *ticket_of(r, t->ticket) = (struct map_ticket){true, t->stop, t->status};
    }
    weft_future_release(t->f);
    r->retired++;
}

/* Collect finished tickets in order, up to the first failure: every ticket
 * before it was collected, so it is the lowest failing item. */
static void collect_tickets(struct map_run *r)
{
    while (!r->failed) {
        struct map_ticket *k = ticket_of(r, r->collected);
        if (!k->done)
            return;
        k->done = false;
        r->collected++;
        if (k->status != 0) {
            r->failed = true;
            r->fail_at = k->stop;
            r->fail_status = k->status;
        }
    }
}

void weft__map_step(struct map_run *r)
{
    weft_future *f = task_of(r, r->retired)->f;
    /* Once stopping, wait without a deadline: started chunks write out. */
    if (weft__future_wait(f, r->stopping ? NULL : r->deadline) != WEFT_OK) {
        weft__map_note_error(r, WEFT_ETIMEDOUT);
        weft__map_stop_all(r);
        return;
    }
    retire_oldest(r);
    collect_tickets(r);
    if (r->failed || r->err != WEFT_OK)
        weft__map_stop_all(r);
}

void weft__map_drain(struct map_run *r)
{
    weft__map_stop_all(r);
    while (r->retired < r->submitted)
        weft__map_step(r);
}

/* weft_map's loop: every collected ticket is released at once (out holds
 * every item, so no slot is reused). */
static void run_chunks(struct map_run *r)
{
    for (;;) {
        fill_window(r);
        if (r->retired == r->submitted)
            return;
        weft__map_step(r);
        r->released = r->collected;
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

int weft__map_read_options(void *dst, size_t size, const void *user, size_t res_off,
                           size_t nres)
{
    if (user == NULL)
        return WEFT_OK;
    size_t user_size;
    memcpy(&user_size, user, sizeof(user_size)); /* the struct_size member comes first */
    if (user_size < res_off || user_size > size)
        return WEFT_EINVAL;
    memcpy(dst, user, user_size);
    for (size_t i = 0; i < nres; i++) {
        uint64_t word;
        memcpy(&word, (const char *)dst + res_off + i * sizeof(word), sizeof(word));
        if (word != 0)
            return WEFT_EINVAL;
    }
    return WEFT_OK;
}

static int read_options(weft_map_options *o, const weft_map_options *user)
{
    weft_map_options_init(o);
    return weft__map_read_options(o, sizeof(*o), user, offsetof(weft_map_options, reserved),
                                  sizeof(o->reserved) / sizeof(o->reserved[0]));
}

/* Chunk size and window from the options and the pool size. */
static void plan(struct map_run *r, const weft_map_options *o, size_t n)
{
    size_t workers = r->pool->n;
    if (workers == 0)
        workers = 1;
    size_t chunk = o->chunk;
    if (chunk == 0)
        chunk = weft__map_clamp(n / (AUTO_CHUNKS_PER_WORKER * workers), 1,
                                WEFT__MAP_AUTO_CHUNK_MAX);
    r->call.chunk = chunk;
    r->nchunks = n / chunk + (n % chunk != 0);
    r->cap = o->max_in_flight;
    if (r->cap == 0)
        r->cap = weft__map_clamp(WINDOW_PER_WORKER * workers / chunk,
                                 IN_FLIGHT_MIN_PER_WORKER * workers,
                                 IN_FLIGHT_MAX_PER_WORKER * workers);
    if (r->cap > r->nchunks)
        r->cap = r->nchunks;
}

static int finish(struct map_run *r, size_t *failed_index)
{
    free(r->ring);
    if (r->failed) {
        if (failed_index != NULL)
            *failed_index = r->fail_at;
        return weft__task_failed(r->fail_status);
    }
    return r->err;
}

/* A zero in_stride broadcasts one input to every item. out_stride may be 0
 * only for n <= 1 (items would race on one output). An item failure takes
 * precedence over a timeout or shutdown that happened meanwhile: when
 * *failed_index was written, the return value is WEFT_ETASK. */
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
    struct map_run r = {.pool = pool, .deadline = has_dl ? &dl : NULL};
    r.call.fn = fn;
    r.call.ud = ud;
    r.call.in = in;
    r.call.in_stride = in_stride;
    r.call.out = out;
    r.call.out_stride = out_stride;
    weft__map_call_init(&r.call, n);
    plan(&r, &o, n);
    r.ring = weft__calloc(r.cap, sizeof(*r.ring));
    if (r.ring == NULL)
        return WEFT_ENOMEM;
    run_chunks(&r);
    return finish(&r, failed_index);
}
