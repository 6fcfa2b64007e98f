/* weft_map_iter: a lazy, bounded map (Executor.map with buffersize), built
 * on weft_map's chunk tasks, tickets and rings (map.h, map.c).
 *
 * Window. W = window / chunk ring slots. Chunk k's results go to slot
 * k % W of the output ring (out_wrap = W * chunk items), and with an input
 * callback its items come from slot k % W of the input ring (in_wrap), read
 * on the caller's thread just before task k is submitted. A ticket is
 * released when next has handed out its last item; a task is submitted only
 * while submitted < released + W (weft__map_can_submit), so at most
 * W * chunk <= window items are submitted and not taken, and a slot is
 * rewritten only after the caller is done with its previous chunk. map.c
 * [MP3] shows why whichever task claims a ticket sees the caller's input
 * writes and none of its accesses overlaps the caller's reads of the
 * slot's previous results; [MP1] (the future's completion, acquired by
 * weft__future_wait) publishes the results to the caller; [MP4] carries
 * the item count found at the end of the input to the last chunk.
 *
 * next. Items [pos, ready_end) are collected and good: next copies one out
 * without touching anything shared (the fast path). Otherwise it refills
 * the window, waits for the oldest task, retires it and collects finished
 * tickets (weft__map_step) until pos's chunk is in, the deadline passes or
 * the run stops. Any error stops the run (weft__map_stop_all: unstarted
 * chunk tasks are cancelled, running ones see cancel requested) and sticks.
 *
 * end. weft__map_drain asks every outstanding task to stop and waits for
 * all of them without a deadline, so nothing writes into the rings after
 * the free.
 *
 * This file adds no atomic access of its own but [MP4]'s store: everything
 * else it reads or writes is the caller's own, or published by futures. */
#include <limits.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "futex.h"
#include "map.h"

/* Automatic chunk when neither n nor the window bounds it: about a
 * microsecond of task cost spread over many tiny items, while items that
 * each take long should ask for chunk 1. */
#define ITER_AUTO_CHUNK 1024
/* Default window, in chunks per worker. */
#define ITER_CHUNKS_PER_WORKER 4
/* An array's automatic chunk leaves at least this many chunks per worker. */
#define ITER_ARRAY_CHUNKS_PER_WORKER 8

struct weft_map_iter {
    struct map_run r;
    struct timespec dl;
    char *outbuf, *inbuf;  /* rings of W * chunk items (inbuf: callback only) */
    size_t out_size, in_size;
    weft_map_input_fn input;
    void *input_ud;
    size_t pos;       /* index of the next result to hand out */
    size_t ready_end; /* [pos, ready_end) are in and good */
    size_t viewed;    /* results from pos on handed out in place */
    char *cur;        /* pos's result in outbuf */
    size_t chunk_end; /* first item after pos's chunk */
    size_t end;       /* item count; SIZE_MAX until the input callback ends */
    bool input_failed; /* the callback failed at index `end` */
    int input_status;
    int stuck;        /* the error every call returns from now on, or 0 */
    size_t stuck_index;
    int stuck_status;
};

void weft_map_iter_options_init(weft_map_iter_options *o)
{
    if (o == NULL)
        return;
    memset(o, 0, sizeof(*o));
    o->struct_size = sizeof(*o);
    o->timeout_ns = WEFT_FOREVER;
}

/* Read chunk s's items from the callback into its input slot, a run per
 * call (short runs are asked again for the rest). False when there are
 * none: the input ended (or failed) at the chunk's first item. */
static bool feed_chunk(struct weft_map_iter *it, size_t s)
{
    struct map_run *r = &it->r;
    size_t chunk = r->call.chunk;
    char *slot = it->inbuf + (s % r->cap) * chunk * it->in_size;
    size_t j = 0;
    while (j < chunk) {
        ptrdiff_t got = it->input(it->input_ud, s * chunk + j, slot + j * it->in_size, chunk - j);
        if (got > 0 && (size_t)got <= chunk - j) {
            j += (size_t)got;
            continue;
        }
        if (got != 0) {
            it->input_failed = true;
            it->input_status = got < 0 && got >= INT_MIN ? weft__task_status_of((int)got)
                                                         : WEFT_EINVAL; /* more than asked */
        }
        it->end = s * chunk + j;
        /* [MP4] relaxed: before the submission of chunk s, if any. */
        atomic_store_explicit(&r->call.n, it->end, memory_order_relaxed);
        r->nchunks = s + (j > 0);
        break;
    }
    return j > 0;
}

/* Submit while the window allows. Past the deadline nothing more is
 * submitted; next reports the timeout when it would wait. */
static void refill(struct weft_map_iter *it)
{
    struct map_run *r = &it->r;
    if (weft__map_fail_hint(&r->call) != SIZE_MAX)
        r->no_more = true;
    if (weft__map_can_submit(r) && r->deadline != NULL && weft__deadline_passed(r->deadline))
        r->no_more = true;
    while (weft__map_can_submit(r)) {
        if (it->input != NULL && !feed_chunk(it, r->submitted))
            break;
        weft__map_submit_next(r);
    }
}

/* The results collected and good, from pos on; none once the run has an
 * error (every later call returns it). */
static void update_ready(struct weft_map_iter *it)
{
    struct map_run *r = &it->r;
    size_t e = r->collected * r->call.chunk;
    if (e > it->end)
        e = it->end;
    if (r->failed && r->fail_at < e)
        e = r->fail_at;
    if (r->err != WEFT_OK)
        e = 0;
    it->ready_end = e;
}

/* Hand out the k results from pos on (k >= 1, all of them in and good and
 * in pos's chunk): copied to out, or (out NULL) read in place already.
 * Moves to the next chunk at its end, which frees its slot for reuse. */
static void take_run(struct weft_map_iter *it, void *out, size_t k)
{
    if (out != NULL)
        memcpy(out, it->cur, k * it->out_size);
    it->pos += k;
    it->cur += k * it->out_size;
    if (it->pos == it->chunk_end) {
        struct map_run *r = &it->r;
        r->released++;
        it->chunk_end += r->call.chunk;
        it->cur = it->outbuf + (r->released % r->cap) * r->call.chunk * it->out_size;
        refill(it);
        update_ready(it);
    }
}

static int take(struct weft_map_iter *it, void *out, size_t *index)
{
    if (index != NULL)
        *index = it->pos;
    take_run(it, out, 1);
    return WEFT_OK;
}

static int report(struct weft_map_iter *it, size_t *index)
{
    if (it->stuck != WEFT_ETASK)
        return it->stuck;
    if (index != NULL)
        *index = it->stuck_index;
    return weft__task_failed(it->stuck_status);
}

static int stick(struct weft_map_iter *it, int rc, size_t index, int status, size_t *idx_out)
{
    weft__map_stop_all(&it->r);
    it->stuck = rc;
    it->stuck_index = index;
    it->stuck_status = status;
    return report(it, idx_out);
}

/* Results handed out in place by weft_map_iter_next_view: now the
 * caller is done with them (it called again). */
static void settle_view(struct weft_map_iter *it)
{
    if (it->viewed != 0) {
        take_run(it, NULL, it->viewed);
        it->viewed = 0;
    }
}

/* Wait until pos's result is in and good: WEFT_OK, or the error that
 * stops the iterator (reported as next reports it). */
static int await_ready(struct weft_map_iter *it, size_t *index)
{
    struct map_run *r = &it->r;
    if (it->stuck != WEFT_OK)
        return report(it, index);
    for (;;) {
        update_ready(it);
        if (it->pos < it->ready_end)
            return WEFT_OK;
        if (r->err != WEFT_OK)
            return stick(it, r->err, 0, 0, index);
        if (r->failed && it->pos >= r->fail_at)
            return stick(it, WEFT_ETASK, r->fail_at, r->fail_status, index);
        if (it->pos >= it->end) {
            if (it->input_failed)
                return stick(it, WEFT_ETASK, it->end, it->input_status, index);
            return WEFT_EOF;
        }
        refill(it);
        if (r->err != WEFT_OK)
            continue;
        if (r->retired == r->submitted) {
            /* pos's chunk is not submitted, and only the deadline stops
             * submissions without an error or a collected failure. */
            weft__map_note_error(r, WEFT_ETIMEDOUT);
            continue;
        }
        weft__map_step(r);
    }
}

/* The start of every next call: count the results handed out in place as
 * taken, then have pos's result in (WEFT_OK) or the iterator's error. */
static int next_ready(struct weft_map_iter *it, size_t *index)
{
    settle_view(it);
    return it->pos < it->ready_end ? WEFT_OK : await_ready(it, index);
}

int weft_map_iter_next(weft_map_iter *it, void *out, size_t *index)
{
    if (it == NULL || (out == NULL && it->out_size > 0))
        return WEFT_EINVAL;
    int rc = next_ready(it, index);
    return rc != WEFT_OK ? rc : take(it, out, index);
}

/* The run of results from pos on that is in, within pos's chunk and at
 * most max long (pos's result is in). */
static size_t ready_run(const struct weft_map_iter *it, size_t max)
{
    size_t stop = it->ready_end < it->chunk_end ? it->ready_end : it->chunk_end;
    return stop - it->pos < max ? stop - it->pos : max;
}

int weft_map_iter_next_view(weft_map_iter *it, const void **items, size_t *count, size_t *first)
{
    if (count != NULL)
        *count = 0;
    if (it == NULL || items == NULL || count == NULL)
        return WEFT_EINVAL;
    int rc = next_ready(it, first);
    if (rc != WEFT_OK)
        return rc;
    if (first != NULL)
        *first = it->pos;
    *items = it->cur;
    *count = it->viewed = ready_run(it, SIZE_MAX);
    return WEFT_OK;
}

int weft_map_iter_next_n(weft_map_iter *it, void *out, size_t max, size_t *count,
                         size_t *first)
{
    if (count != NULL)
        *count = 0;
    if (it == NULL || count == NULL || max == 0 || (out == NULL && it->out_size > 0))
        return WEFT_EINVAL;
    int rc = weft_map_iter_next(it, out, first);
    if (rc != WEFT_OK)
        return rc;
    size_t k = 1;
    char *o = (char *)out + it->out_size;
    /* Then whole runs of what is in, a chunk at a time, without waiting. */
    while (k < max && it->pos < it->ready_end) {
        size_t run = ready_run(it, max - k);
        take_run(it, o, run);
        k += run;
        o += run * it->out_size;
    }
    *count = k;
    return WEFT_OK;
}

void weft_map_iter_end(weft_map_iter *it)
{
    if (it == NULL)
        return;
    it->viewed = 0;
    weft__map_drain(&it->r);
    free(it->r.ring);
    free(it->outbuf);
    free(it->inbuf);
    free(it);
}

/* ---- begin ---- */

/* Chunk and ring slots from the options; false for sizes that overflow. */
static bool plan(struct weft_map_iter *it, const weft_map_iter_options *o, size_t n,
                 bool array)
{
    size_t workers = weft_pool_size(it->r.pool);
    if (workers == 0)
        workers = 1;
    size_t chunk = o->chunk, window = o->window;
    if (chunk == 0) {
        chunk = ITER_AUTO_CHUNK;
        if (window != 0 && window / (ITER_CHUNKS_PER_WORKER * workers) < chunk)
            chunk = window / (ITER_CHUNKS_PER_WORKER * workers);
        if (array && n / (ITER_ARRAY_CHUNKS_PER_WORKER * workers) < chunk)
            chunk = n / (ITER_ARRAY_CHUNKS_PER_WORKER * workers);
        if (chunk == 0)
            chunk = 1;
    }
    if (window == 0) {
        if (chunk > SIZE_MAX / (ITER_CHUNKS_PER_WORKER * workers))
            return false;
        window = ITER_CHUNKS_PER_WORKER * workers * chunk;
    }
    if (chunk > window)
        chunk = window;
    size_t cap = window / chunk;
    size_t nchunks = array ? n / chunk + (n % chunk != 0) : SIZE_MAX;
    if (cap > nchunks)
        cap = nchunks > 0 ? nchunks : 1;
    size_t items = cap * chunk;
    if ((it->out_size > 0 && items > PTRDIFF_MAX / it->out_size) ||
        (it->in_size > 0 && items > PTRDIFF_MAX / it->in_size))
        return false;
    it->r.call.chunk = chunk;
    it->r.nchunks = nchunks;
    it->r.cap = cap;
    it->r.call.out_wrap = items;
    it->r.call.in_wrap = array ? 0 : items;
    it->chunk_end = chunk;
    return true;
}

/* in: the array (input NULL) or NULL (the callback form). */
static int begin(weft_map_iter **out, weft_pool *pool, weft_elem_fn fn, void *ud,
                 const void *in, size_t in_stride, size_t n, weft_map_input_fn input,
                 void *input_ud, size_t in_size, size_t out_size,
                 const weft_map_iter_options *opts)
{
    weft_map_iter_options o;
    weft_map_iter_options_init(&o);
    if (out == NULL || pool == NULL || fn == NULL ||
        weft__map_read_options(&o, sizeof(o), opts, offsetof(weft_map_iter_options, reserved),
                               sizeof(o.reserved) / sizeof(o.reserved[0])) != WEFT_OK)
        return WEFT_EINVAL;
    bool array = input == NULL;
    struct weft_map_iter *it = weft__aligned_alloc(alignof(struct weft_map_iter), sizeof(*it));
    if (it == NULL)
        return WEFT_ENOMEM;
    memset(it, 0, sizeof(*it));
    it->r.pool = pool;
    it->out_size = out_size;
    it->in_size = array ? 0 : in_size;
    it->input = input;
    it->input_ud = input_ud;
    it->end = array ? n : SIZE_MAX;
    if (!plan(it, &o, n, array)) {
        free(it);
        return WEFT_EINVAL;
    }
    size_t items = it->r.cap * it->r.call.chunk;
    it->r.ring = weft__calloc(it->r.cap, sizeof(*it->r.ring));
    /* One byte at least: a zero out_size or in_size still gets a pointer. */
    it->outbuf = weft__malloc(items * out_size + 1);
    it->inbuf = array ? NULL : weft__malloc(items * in_size + 1);
    if (it->r.ring == NULL || it->outbuf == NULL || (!array && it->inbuf == NULL)) {
        free(it->r.ring);
        free(it->outbuf);
        free(it->inbuf);
        free(it);
        return WEFT_ENOMEM;
    }
    it->cur = it->outbuf;
    struct map_call *c = &it->r.call;
    c->fn = fn;
    c->ud = ud;
    c->in = array ? in : it->inbuf;
    c->in_stride = array ? in_stride : in_size;
    c->out = it->outbuf;
    c->out_stride = out_size;
    weft__map_call_init(c, it->end);
    if (weft__deadline_in(&it->dl, o.timeout_ns))
        it->r.deadline = &it->dl;
    refill(it);
    if (it->r.submitted == 0 && it->r.err != WEFT_OK) {
        int rc = it->r.err;
        weft_map_iter_end(it);
        return rc;
    }
    *out = it;
    return WEFT_OK;
}

int weft_map_iter_begin(weft_map_iter **out, weft_pool *pool, weft_elem_fn fn, void *ud,
                        const void *in, size_t in_stride, size_t n, size_t out_size,
                        const weft_map_iter_options *opts)
{
    if (n > 0 && (in == NULL || (in_stride > 0 && n - 1 > PTRDIFF_MAX / in_stride)))
        return WEFT_EINVAL;
    return begin(out, pool, fn, ud, in, in_stride, n, NULL, NULL, 0, out_size, opts);
}

int weft_map_iter_begin_input(weft_map_iter **out, weft_pool *pool, weft_elem_fn fn,
                              void *ud, weft_map_input_fn input, void *input_ud,
                              size_t in_size, size_t out_size,
                              const weft_map_iter_options *opts)
{
    if (input == NULL)
        return WEFT_EINVAL;
    return begin(out, pool, fn, ud, NULL, 0, 0, input, input_ud, in_size, out_size, opts);
}
