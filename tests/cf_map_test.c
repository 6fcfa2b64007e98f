/* weft_map (Executor.map over arrays): results in input order for every
 * chunking (1, automatic, n < chunk, n = 0), strides and broadcasting,
 * argument checks, the bounded window of chunks in flight, the default
 * window in items (independent of n), items starting in input order, the
 * timeout (measured from the call; nothing runs after the return),
 * first-failure reporting (lowest failing index; items after it never start
 * once it is known) and weft_map called from inside a task (it helps, no
 * deadlock on one worker).
 *
 * Element functions record into atomics; the test thread asserts. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "weft.h"
#include "weft_criterion.h"

TestSuite(cf_map, .timeout = 30);

#define MS 1000000ll

/* ---- helpers ------------------------------------------------------------- */

static weft_map_options opts_of(size_t chunk, size_t in_flight, int64_t timeout_ns)
{
    weft_map_options o;
    weft_map_options_init(&o);
    o.chunk = chunk;
    o.max_in_flight = in_flight;
    o.timeout_ns = timeout_ns;
    return o;
}

struct counter {
    atomic_long calls;
};

/* out = 2 * in (int64), counting calls in ud (may be NULL). */
static int double_fn(weft_ctx *ctx, const void *in, void *out, void *ud)
{
    (void)ctx;
    int64_t x;
    memcpy(&x, in, sizeof(x));
    x *= 2;
    memcpy(out, &x, sizeof(x));
    if (ud != NULL)
        atomic_fetch_add(&((struct counter *)ud)->calls, 1);
    return 0;
}

static int64_t *iota(size_t n)
{
    int64_t *a = malloc(sizeof(int64_t) * (n ? n : 1));
    cr_assert(a != NULL);
    for (size_t i = 0; i < n; i++)
        a[i] = (int64_t)i + 1;
    return a;
}

static void assert_doubled(const int64_t *in, const int64_t *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cr_assert(eq(i64, out[i], 2 * in[i]), "item %zu", i);
}

static void map_doubles(weft_pool *p, size_t n, size_t chunk, size_t in_flight)
{
    int64_t *in = iota(n), *out = calloc(n ? n : 1, sizeof(int64_t));
    struct counter c = {0};
    weft_map_options o = opts_of(chunk, in_flight, WEFT_FOREVER);
    size_t fi = 12345;
    cr_assert(eq(int, weft_map(p, double_fn, &c, in, sizeof(int64_t), out, sizeof(int64_t), n, &o, &fi),
                 WEFT_OK));
    cr_assert(eq(sz, fi, 12345)); /* untouched on success */
    assert_doubled(in, out, n);
    cr_assert(eq(long, atomic_load(&c.calls), (long)n));
    free(in);
    free(out);
}

/* ---- ordering and chunking ------------------------------------------------- */

Test(cf_map, results_in_input_order_for_every_chunking)
{
    weft_pool *p = wtc_pool_new(2);
    const size_t chunks[] = {1, 0, 7, 1000, 5000};
    const size_t windows[] = {0, 1, 3};
    for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++)
        for (size_t w = 0; w < sizeof(windows) / sizeof(windows[0]); w++)
            map_doubles(p, 1000, chunks[c], windows[w]);
    map_doubles(p, 1, 0, 0);
    map_doubles(p, 3, 5, 0); /* n < chunk */
    map_doubles(p, 100000, 0, 0);
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
}

Test(cf_map, zero_items_is_ok_and_calls_nothing)
{
    weft_pool *p = wtc_pool_new(1);
    struct counter c = {0};
    size_t fi = 7;
    cr_assert(eq(int, weft_map(p, double_fn, &c, NULL, 0, NULL, 0, 0, NULL, &fi), WEFT_OK));
    cr_assert(eq(sz, fi, 7));
    cr_assert(eq(long, atomic_load(&c.calls), 0));
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
}

struct wide_in {
    int64_t v;
    char pad[20];
};

Test(cf_map, strides_and_broadcast_input)
{
    weft_pool *p = wtc_pool_new(2);
    enum { N = 333 };
    struct wide_in in[N];
    int64_t out[3 * N];
    for (int i = 0; i < N; i++)
        in[i].v = i * 10;
    memset(out, 0, sizeof(out));
    cr_assert(eq(int, weft_map(p, double_fn, NULL, in, sizeof(in[0]), out, 3 * sizeof(int64_t),
                               N, NULL, NULL), WEFT_OK));
    for (int i = 0; i < N; i++) {
        cr_assert(eq(i64, out[3 * i], 20 * i));
        cr_assert(eq(i64, out[3 * i + 1], 0)); /* gaps untouched */
    }
    /* in_stride 0 broadcasts one input to every item. */
    int64_t one = 21;
    cr_assert(eq(int, weft_map(p, double_fn, NULL, &one, 0, out, sizeof(int64_t), N, NULL, NULL),
                 WEFT_OK));
    for (int i = 0; i < N; i++)
        cr_assert(eq(i64, out[i], 42));
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
}

Test(cf_map, bad_arguments_are_einval)
{
    weft_pool *p = wtc_pool_new(1);
    int64_t in[2] = {1, 2}, out[2] = {0, 0};
    const size_t s = sizeof(int64_t);
    cr_assert(eq(int, weft_map(NULL, double_fn, NULL, in, s, out, s, 2, NULL, NULL), WEFT_EINVAL));
    cr_assert(eq(int, weft_map(p, NULL, NULL, in, s, out, s, 2, NULL, NULL), WEFT_EINVAL));
    cr_assert(eq(int, weft_map(p, double_fn, NULL, NULL, s, out, s, 2, NULL, NULL), WEFT_EINVAL));
    cr_assert(eq(int, weft_map(p, double_fn, NULL, in, s, NULL, s, 2, NULL, NULL), WEFT_EINVAL));
    cr_assert(eq(int, weft_map(p, double_fn, NULL, in, s, out, 0, 2, NULL, NULL), WEFT_EINVAL));
    weft_map_options o = opts_of(0, 0, WEFT_FOREVER);
    o.struct_size = 0;
    cr_assert(eq(int, weft_map(p, double_fn, NULL, in, s, out, s, 2, &o, NULL), WEFT_EINVAL));
    o = opts_of(0, 0, WEFT_FOREVER);
    o.struct_size = sizeof(o) + 8;
    cr_assert(eq(int, weft_map(p, double_fn, NULL, in, s, out, s, 2, &o, NULL), WEFT_EINVAL));
    o = opts_of(0, 0, WEFT_FOREVER);
    o.reserved[1] = 1;
    cr_assert(eq(int, weft_map(p, double_fn, NULL, in, s, out, s, 2, &o, NULL), WEFT_EINVAL));
    cr_assert(eq(i64, out[0], 0)); /* nothing ran */
    /* One item may use out_stride 0. */
    cr_assert(eq(int, weft_map(p, double_fn, NULL, in, s, out, 0, 1, NULL, NULL), WEFT_OK));
    cr_assert(eq(i64, out[0], 2));
    weft_map_options_init(NULL); /* ignored */
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
}

/* ---- input order ------------------------------------------------------------ */

/* Items start in input order: on one worker, fn is called with strictly
 * increasing indices, whichever order the pool runs the chunk tasks in. */
struct order_rec {
    atomic_long last; /* last index called, -1 before the first */
    atomic_int out_of_order;
    atomic_long calls;
};

static int ordered_fn(weft_ctx *ctx, const void *in, void *out, void *ud)
{
    struct order_rec *o = ud;
    long i = (long)(*(const int64_t *)in) - 1; /* inputs are iota */
    if (atomic_exchange(&o->last, i) >= i)
        atomic_fetch_add(&o->out_of_order, 1);
    atomic_fetch_add(&o->calls, 1);
    return double_fn(ctx, in, out, NULL);
}

/* A weft_map call set up by the test thread, run there or in a task. */
struct order_case {
    weft_pool *pool;
    size_t n, chunk, in_flight;
    int64_t *in, *out;
    int rc;
    struct order_rec rec;
};

static void run_order_case(struct order_case *c)
{
    weft_map_options o = opts_of(c->chunk, c->in_flight, WEFT_FOREVER);
    c->rc = weft_map(c->pool, ordered_fn, &c->rec, c->in, sizeof(int64_t), c->out,
                     sizeof(int64_t), c->n, &o, NULL);
}

static int order_case_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)result;
    run_order_case(arg);
    return 0;
}

static void check_order(weft_pool *p, size_t chunk, size_t in_flight, bool in_task)
{
    struct order_case c = {.pool = p, .n = 300, .chunk = chunk, .in_flight = in_flight};
    c.in = iota(c.n);
    c.out = calloc(c.n, sizeof(int64_t));
    cr_assert(c.out != NULL);
    atomic_store(&c.rec.last, -1);
    if (in_task)
        cr_assert(eq(int, wtc_run_task(p, order_case_task, &c, NULL), WEFT_OK));
    else
        run_order_case(&c);
    cr_assert(eq(int, c.rc, WEFT_OK));
    assert_doubled(c.in, c.out, c.n);
    free(c.in);
    free(c.out);
    cr_assert(eq(long, atomic_load(&c.rec.calls), (long)c.n));
    cr_assert(eq(int, atomic_load(&c.rec.out_of_order), 0),
              "chunk %zu, %zu in flight, %s", chunk, in_flight, in_task ? "in a task" : "outside");
}

Test(cf_map, items_start_in_input_order_on_one_worker)
{
    weft_pool *p = wtc_pool_new(1);
    for (int in_task = 0; in_task < 2; in_task++) {
        check_order(p, 1, 5, in_task);
        check_order(p, 3, 4, in_task);
        check_order(p, 1, 0, in_task);
        check_order(p, 0, 0, in_task);
    }
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
}

/* ---- bounded window -------------------------------------------------------- */

#define TRACK_MAX_CHUNKS 1024
struct tracker {
    size_t chunk, window, n;
    atomic_int active;     /* chunks started and not finished */
    atomic_int max_active;
    atomic_int violations; /* a chunk started before chunk (c - window) finished */
    atomic_int finished[TRACK_MAX_CHUNKS];
};

static void spin_us(int64_t us)
{
    int64_t end = wt_now_ns() + us * 1000;
    while (wt_now_ns() < end) {
    }
}

static void chunk_started(struct tracker *t, size_t c)
{
    /* Chunk c is submitted only once chunk c - window was collected. */
    for (size_t j = 0; j + t->window <= c; j++)
        if (!atomic_load(&t->finished[j]))
            atomic_fetch_add(&t->violations, 1);
    int a = atomic_fetch_add(&t->active, 1) + 1;
    int m = atomic_load(&t->max_active);
    while (a > m && !atomic_compare_exchange_weak(&t->max_active, &m, a)) {
    }
}

static int tracked_fn(weft_ctx *ctx, const void *in, void *out, void *ud)
{
    struct tracker *t = ud;
    size_t i = (size_t)(*(const int64_t *)in) - 1; /* inputs are iota */
    size_t c = i / t->chunk;
    if (i % t->chunk == 0)
        chunk_started(t, c);
    spin_us(20);
    if (i % t->chunk == t->chunk - 1 || i == t->n - 1) {
        atomic_fetch_sub(&t->active, 1);
        atomic_store(&t->finished[c], 1);
    }
    return double_fn(ctx, in, out, NULL);
}

static void check_window(weft_pool *p, size_t window)
{
    enum { N = 600, CHUNK = 3 };
    struct tracker *t = calloc(1, sizeof(*t));
    t->chunk = CHUNK;
    t->window = window;
    t->n = N;
    int64_t *in = iota(N), *out = calloc(N, sizeof(int64_t));
    weft_map_options o = opts_of(CHUNK, window, WEFT_FOREVER);
    cr_assert(eq(int, weft_map(p, tracked_fn, t, in, sizeof(int64_t), out, sizeof(int64_t), N, &o,
                               NULL), WEFT_OK));
    assert_doubled(in, out, N);
    cr_assert(eq(int, atomic_load(&t->violations), 0), "window %zu exceeded", window);
    cr_assert(le(int, atomic_load(&t->max_active), (int)window));
    cr_assert(eq(int, atomic_load(&t->active), 0));
    free(t);
    free(in);
    free(out);
}

Test(cf_map, at_most_max_in_flight_chunks_outstanding)
{
    weft_pool *p = wtc_pool_new(2);
    check_window(p, 1); /* two workers, yet one chunk at a time */
    check_window(p, 2);
    check_window(p, 5);
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
}

/* With default options, items started and not yet collected stay within
 * weft.h's bound of 32768 per worker, whatever n is. Collection is in input
 * order and only of completed items, so the count of items collected never
 * exceeds the longest prefix of completed items: started - prefix, read by
 * each item as it starts, is a lower bound of started - collected. */
#define DEFAULT_WINDOW_PER_WORKER 32768

struct window_probe {
    size_t n;
    atomic_long started;
    atomic_long prefix; /* items [0, prefix) completed */
    atomic_long max_ahead;
    atomic_char *done;
};

static void probe_note_ahead(struct window_probe *w, long ahead)
{
    long m = atomic_load(&w->max_ahead);
    while (ahead > m && !atomic_compare_exchange_weak(&w->max_ahead, &m, ahead)) {
    }
}

/* Advance the prefix over completed items. Every item stores done, then
 * advances: of two items finishing at once, one sees the other's done. */
static void probe_advance(struct window_probe *w)
{
    long p = atomic_load(&w->prefix);
    while ((size_t)p < w->n && atomic_load(&w->done[p]))
        if (atomic_compare_exchange_weak(&w->prefix, &p, p + 1))
            p++;
}

static int probed_fn(weft_ctx *ctx, const void *in, void *out, void *ud)
{
    struct window_probe *w = ud;
    size_t i = (size_t)(*(const int64_t *)in) - 1; /* inputs are iota */
    long s = atomic_fetch_add(&w->started, 1) + 1;
    probe_note_ahead(w, s - atomic_load(&w->prefix));
    int rc = double_fn(ctx, in, out, NULL);
    atomic_store(&w->done[i], 1);
    probe_advance(w);
    return rc;
}

Test(cf_map, default_window_in_items_does_not_grow_with_n)
{
    enum { WORKERS = 2 };
    weft_pool *p = wtc_pool_new(WORKERS);
    struct window_probe w = {.n = 400000};
    w.done = calloc(w.n, sizeof(*w.done));
    int64_t *in = iota(w.n), *out = calloc(w.n, sizeof(int64_t));
    cr_assert(w.done != NULL && out != NULL);
    cr_assert(eq(int, weft_map(p, probed_fn, &w, in, sizeof(int64_t), out, sizeof(int64_t), w.n,
                               NULL, NULL), WEFT_OK));
    assert_doubled(in, out, w.n);
    cr_assert(eq(long, atomic_load(&w.prefix), (long)w.n));
    cr_assert(le(long, atomic_load(&w.max_ahead), (long)DEFAULT_WINDOW_PER_WORKER * WORKERS));
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    free(w.done);
    free(in);
    free(out);
}

/* ---- timeout --------------------------------------------------------------- */

struct slow {
    atomic_int started;
    atomic_int running;
};

static int slow_fn(weft_ctx *ctx, const void *in, void *out, void *ud)
{
    struct slow *s = ud;
    atomic_fetch_add(&s->started, 1);
    atomic_fetch_add(&s->running, 1);
    wt_sleep_ns(10 * MS);
    atomic_fetch_sub(&s->running, 1);
    return double_fn(ctx, in, out, NULL);
}

static void check_timeout(size_t chunk)
{
    weft_pool *p = wtc_pool_new(2);
    enum { N = 200 };
    struct slow s = {0};
    int64_t *in = iota(N), *out = calloc(N, sizeof(int64_t));
    weft_map_options o = opts_of(chunk, 0, 150 * MS);
    size_t fi = 777;
    int64_t t0 = wt_now_ns();
    int rc = weft_map(p, slow_fn, &s, in, sizeof(int64_t), out, sizeof(int64_t), N, &o, &fi);
    int64_t took = wt_now_ns() - t0;
    cr_assert(eq(int, rc, WEFT_ETIMEDOUT));
    cr_assert(eq(sz, fi, 777));
    cr_assert(ge(i64, took, 150 * MS));
    cr_assert(lt(i64, took, 150 * MS + 2000 * MS));
    /* Started items finished before the return, and nothing starts later. */
    cr_assert(eq(int, atomic_load(&s.running), 0));
    int started = atomic_load(&s.started);
    cr_assert(lt(int, started, N));
    wt_sleep_ns(100 * MS);
    cr_assert(eq(int, atomic_load(&s.started), started));
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    cr_assert(eq(int, atomic_load(&s.started), started));
    free(in);
    free(out);
}

Test(cf_map, timeout_from_the_call_cancels_the_rest)
{
    check_timeout(1);
    check_timeout(50); /* running chunks stop at the next item boundary */
}

/* ---- failures -------------------------------------------------------------- */

struct failing {
    size_t bad[4];
    int status[4];
    int nbad;
    atomic_int calls;
    atomic_int calls_at[2000];
};

static int failing_fn(weft_ctx *ctx, const void *in, void *out, void *ud)
{
    struct failing *f = ud;
    size_t i = (size_t)(*(const int64_t *)in) - 1;
    atomic_fetch_add(&f->calls, 1);
    atomic_fetch_add(&f->calls_at[i], 1);
    for (int k = 0; k < f->nbad; k++)
        if (f->bad[k] == i)
            return f->status[k];
    return double_fn(ctx, in, out, NULL);
}

/* Map over n items of which f's fail; returns 0 or the failing item's own
 * status (asserting that the call returned WEFT_ETASK). */
static int run_failing(struct failing *f, size_t n, size_t chunk, size_t *fi, int64_t **outp)
{
    weft_pool *p = wtc_pool_new(2);
    int64_t *in = iota(n), *out = calloc(n, sizeof(int64_t));
    /* A window of 8 chunks, so that a failure stops the call long before
     * the end of the input. */
    weft_map_options o = opts_of(chunk, 8, WEFT_FOREVER);
    int rc = weft_map(p, failing_fn, f, in, sizeof(int64_t), out, sizeof(int64_t), n, &o, fi);
    int task_status = weft_task_status();
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    /* Everything before the reported failure ran and holds its result. */
    if (rc != WEFT_OK)
        assert_doubled(in, out, *fi);
    free(in);
    *outp = out;
    /* An item's failure comes back as WEFT_ETASK, its status beside it. */
    if (rc == WEFT_OK)
        return WEFT_OK;
    cr_assert(eq(int, rc, WEFT_ETASK));
    return task_status;
}

Test(cf_map, first_failure_reports_its_index_and_cancels_the_rest)
{
    struct failing *f = calloc(1, sizeof(*f));
    *f = (struct failing){.bad = {537, 812}, .status = {7, 9}, .nbad = 2};
    size_t fi = 0;
    int64_t *out;
    cr_assert(eq(int, run_failing(f, 1000, 10, &fi, &out), 7));
    cr_assert(eq(sz, fi, 537));
    /* At most a window of chunks after the failure ran: far fewer than n,
     * and the second failing item was never reached. */
    cr_assert(lt(int, atomic_load(&f->calls), 1000));
    cr_assert(eq(int, atomic_load(&f->calls_at[812]), 0));
    /* Items after the failure in its own chunk did not run. */
    cr_assert(eq(int, atomic_load(&f->calls_at[538]), 0));
    free(out);
    free(f);
}

/* Items start in input order, so once an item failed, no later item
 * starts: on one worker none at all; on several, only items that another
 * worker had already started when the failure happened (items after the
 * failing one are slow, so each other worker holds at most one). */
struct stop_case {
    weft_pool *pool;
    size_t n;
    int64_t slow_ns; /* items other than the failing one sleep this long */
    int64_t *in, *out;
    int rc;
    int task_status; /* weft_task_status() on the thread that called map */
    size_t fi;
    atomic_int calls_at[64];
};

enum { STOP_BAD = 1, STOP_STATUS = 5 };

static int stop_fn(weft_ctx *ctx, const void *in, void *out, void *ud)
{
    struct stop_case *c = ud;
    size_t i = (size_t)(*(const int64_t *)in) - 1;
    atomic_fetch_add(&c->calls_at[i], 1);
    if (i == STOP_BAD)
        return STOP_STATUS;
    if (c->slow_ns > 0)
        wt_sleep_ns(c->slow_ns);
    return double_fn(ctx, in, out, NULL);
}

static void run_stop_case(struct stop_case *c)
{
    weft_map_options o = opts_of(1, 5, WEFT_FOREVER);
    c->rc = weft_map(c->pool, stop_fn, c, c->in, sizeof(int64_t), c->out, sizeof(int64_t), c->n,
                     &o, &c->fi);
    c->task_status = weft_task_status();
}

static int stop_case_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)result;
    run_stop_case(arg);
    return 0;
}

/* Returns how many items after the failing one were called. */
static int check_stop(unsigned workers, int64_t slow_ns, bool in_task)
{
    struct stop_case *c = calloc(1, sizeof(*c));
    cr_assert(c != NULL);
    c->pool = wtc_pool_new(workers);
    c->n = 40;
    c->slow_ns = slow_ns;
    c->in = iota(c->n);
    c->out = calloc(c->n, sizeof(int64_t));
    cr_assert(c->out != NULL);
    if (in_task)
        cr_assert(eq(int, wtc_run_task(c->pool, stop_case_task, c, NULL), WEFT_OK));
    else
        run_stop_case(c);
    cr_assert(eq(int, weft_pool_destroy(c->pool), WEFT_OK));
    cr_assert(eq(int, c->rc, WEFT_ETASK));
    cr_assert(eq(int, c->task_status, STOP_STATUS));
    cr_assert(eq(sz, c->fi, STOP_BAD));
    int after = 0;
    for (size_t i = 0; i <= STOP_BAD; i++)
        cr_assert(eq(int, atomic_load(&c->calls_at[i]), 1), "item %zu", i);
    for (size_t i = STOP_BAD + 1; i < c->n; i++)
        after += atomic_load(&c->calls_at[i]);
    assert_doubled(c->in, c->out, STOP_BAD);
    free(c->in);
    free(c->out);
    free(c);
    return after;
}

Test(cf_map, no_item_after_a_failure_starts_on_one_worker)
{
    cr_assert(eq(int, check_stop(1, 0, false), 0));
    cr_assert(eq(int, check_stop(1, 0, true), 0));
}

Test(cf_map, after_a_failure_only_items_already_running_in_parallel_started)
{
    enum { WORKERS = 2 };
    for (int rep = 0; rep < 3; rep++)
        cr_assert(le(int, check_stop(WORKERS, 100 * MS, false), WORKERS - 1));
}

Test(cf_map, lowest_failing_index_wins_when_several_fail)
{
    struct failing *f = calloc(1, sizeof(*f));
    *f = (struct failing){.bad = {35, 22, 23}, .status = {-5, 3, 4}, .nbad = 3};
    size_t fi = 0;
    int64_t *out;
    cr_assert(eq(int, run_failing(f, 400, 10, &fi, &out), 3));
    cr_assert(eq(sz, fi, 22));
    free(out);
    memset(f, 0, sizeof(*f));
    *f = (struct failing){.bad = {5, 3}, .status = {1, 2}, .nbad = 2};
    cr_assert(eq(int, run_failing(f, 400, 1, &fi, &out), 2));
    cr_assert(eq(sz, fi, 3));
    free(out);
    free(f);
}

/* Chunks run in parallel, so a later item often fails first: chunks before
 * it must still run (they hold the lowest failure and results). */
Test(cf_map, failure_reporting_is_exact_under_races)
{
    struct failing *f = calloc(1, sizeof(*f));
    for (int rep = 0; rep < 400; rep++) {
        size_t low = 2 + (size_t)rep % 5, high = low + 1 + (size_t)rep % 3;
        memset(f, 0, sizeof(*f));
        *f = (struct failing){.bad = {high, low}, .status = {-2, -1}, .nbad = 2};
        size_t fi = 0;
        int64_t *out;
        cr_assert(eq(int, run_failing(f, 64, 1 + (size_t)rep % 2, &fi, &out), -1));
        cr_assert(eq(sz, fi, low)); /* run_failing checked out[0, low) */
        free(out);
    }
    free(f);
}

Test(cf_map, failure_at_the_first_and_the_last_item)
{
    struct failing *f = calloc(1, sizeof(*f));
    *f = (struct failing){.bad = {0}, .status = {11}, .nbad = 1};
    size_t fi = 99;
    int64_t *out;
    cr_assert(eq(int, run_failing(f, 500, 0, &fi, &out), 11));
    cr_assert(eq(sz, fi, 0));
    cr_assert(lt(int, atomic_load(&f->calls), 500));
    free(out);
    memset(f, 0, sizeof(*f));
    *f = (struct failing){.bad = {499}, .status = {12}, .nbad = 1};
    cr_assert(eq(int, run_failing(f, 500, 0, &fi, &out), 12));
    cr_assert(eq(sz, fi, 499));
    cr_assert(eq(int, atomic_load(&f->calls), 500));
    free(out);
    free(f);
}

Test(cf_map, an_item_returning_etimedout_is_a_failure_not_the_deadline)
{
    struct failing *f = calloc(1, sizeof(*f));
    *f = (struct failing){.bad = {40}, .status = {WEFT_ETIMEDOUT}, .nbad = 1};
    size_t fi = 0;
    int64_t *out;
    cr_assert(eq(int, run_failing(f, 100, 4, &fi, &out), WEFT_ETIMEDOUT));
    cr_assert(eq(sz, fi, 40)); /* written: it was the item's own status */
    free(out);
    free(f);
}

Test(cf_map, shut_down_pool_is_eshutdown)
{
    weft_pool *p = wtc_pool_new(1);
    cr_assert(eq(int, weft_pool_shutdown(p, WEFT_SHUTDOWN_WAIT), WEFT_OK));
    int64_t in[4] = {1, 2, 3, 4}, out[4] = {0};
    size_t fi = 5;
    cr_assert(eq(int, weft_map(p, double_fn, NULL, in, sizeof(int64_t), out, sizeof(int64_t), 4,
                               NULL, &fi), WEFT_ESHUTDOWN));
    cr_assert(eq(sz, fi, 5));
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
}

/* ---- from inside a task ---------------------------------------------------- */

struct inner_map {
    size_t n;
    int rc;
    int ok;
};

static int map_in_task(weft_ctx *ctx, void *arg, void **result)
{
    struct inner_map *m = arg;
    (void)result;
    int64_t *in = malloc(sizeof(int64_t) * m->n), *out = calloc(m->n, sizeof(int64_t));
    if (in == NULL || out == NULL)
        return 1;
    for (size_t i = 0; i < m->n; i++)
        in[i] = (int64_t)i;
    weft_map_options o = opts_of(3, 2, WEFT_FOREVER);
    m->rc = weft_map(weft_ctx_pool(ctx), double_fn, NULL, in, sizeof(int64_t), out,
                     sizeof(int64_t), m->n, &o, NULL);
    m->ok = 1;
    for (size_t i = 0; i < m->n; i++)
        m->ok &= out[i] == 2 * in[i];
    free(in);
    free(out);
    return 0;
}

static void check_map_in_task(unsigned workers)
{
    weft_pool *p = wtc_pool_new(workers);
    struct inner_map m = {.n = 500};
    weft_future *f;
    cr_assert(eq(int, weft_submit(p, map_in_task, &m, NULL, &f), WEFT_OK));
    cr_assert(eq(int, weft_future_result(f, 20000 * MS, NULL), WEFT_OK));
    cr_assert(eq(int, m.rc, WEFT_OK));
    cr_assert(eq(int, m.ok, 1));
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    weft_future_release(f);
}

Test(cf_map, map_inside_a_task_helps_instead_of_deadlocking)
{
    check_map_in_task(1);
    check_map_in_task(2);
}

/* On one worker the caller runs every chunk itself while it waits (the
 * oldest chunk is always done when waited on): the deadline still holds. */
struct inner_timed {
    struct slow s;
    int rc;
    int64_t took;
};

static int timed_map_in_task(weft_ctx *ctx, void *arg, void **result)
{
    struct inner_timed *m = arg;
    enum { N = 100 };
    (void)result;
    int64_t in[N], out[N];
    for (int i = 0; i < N; i++)
        in[i] = i;
    weft_map_options o = opts_of(1, 2, 100 * MS);
    int64_t t0 = wt_now_ns();
    m->rc = weft_map(weft_ctx_pool(ctx), slow_fn, &m->s, in, sizeof(int64_t), out,
                     sizeof(int64_t), N, &o, NULL);
    m->took = wt_now_ns() - t0;
    return 0;
}

Test(cf_map, timeout_holds_when_the_caller_runs_the_chunks_itself)
{
    weft_pool *p = wtc_pool_new(1);
    struct inner_timed m = {0};
    weft_future *f;
    cr_assert(eq(int, weft_submit(p, timed_map_in_task, &m, NULL, &f), WEFT_OK));
    cr_assert(eq(int, weft_future_result(f, 20000 * MS, NULL), WEFT_OK));
    cr_assert(eq(int, m.rc, WEFT_ETIMEDOUT));
    cr_assert(ge(i64, m.took, 100 * MS));
    cr_assert(lt(i64, m.took, 100 * MS + 2000 * MS)); /* all 100 items take >= 1 s */
    cr_assert(lt(int, atomic_load(&m.s.started), 100));
    cr_assert(eq(int, atomic_load(&m.s.running), 0));
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    weft_future_release(f);
}
