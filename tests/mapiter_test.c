/* weft_map_iter (the lazy, bounded map): results equal the serial map for
 * array and callback inputs, the window bounds the items in flight, ending
 * early cancels what has not started and waits for what runs, a failing
 * item or input callback stops the map and sticks, the deadline of the
 * whole map, and argument checks. The 10^7-item run is
 * tests/stress/mapiter_stress.c.
 *
 * Element functions record into atomics; the test thread asserts. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "weft.h"
#include "weft_criterion.h"

TestSuite(mapiter, .timeout = 30);

#define MS 1000000ll

static weft_map_iter_options iter_opts(size_t window, size_t chunk, int64_t timeout_ns)
{
    weft_map_iter_options o;
    weft_map_iter_options_init(&o);
    o.window = window;
    o.chunk = chunk;
    o.timeout_ns = timeout_ns;
    return o;
}

/* What the element functions share with the test. */
struct probe {
    atomic_long runs;      /* items started */
    atomic_long in_flight; /* items running now */
    atomic_long peak;      /* most items running at once */
    atomic_long saw_cancel; /* items that saw cancel requested */
    int64_t fail_at;       /* input value that fails, -1 for none */
    int64_t sleep_ns;      /* per item */
    bool wait_cancel;      /* spin (bounded) until cancel is requested */
};

static int64_t triple(int64_t x)
{
    return 3 * x + 1;
}

static int probe_fn(weft_ctx *ctx, const void *in, void *out, void *ud)
{
    struct probe *p = ud;
    int64_t x;
    memcpy(&x, in, sizeof(x));
    atomic_fetch_add(&p->runs, 1);
    long now = atomic_fetch_add(&p->in_flight, 1) + 1;
    long peak = atomic_load(&p->peak);
    while (now > peak && !atomic_compare_exchange_weak(&p->peak, &peak, now)) {
    }
    if (p->sleep_ns > 0)
        wt_sleep_ns(p->sleep_ns);
    if (p->wait_cancel) {
        int64_t until = wt_now_ns() + 5000 * MS;
        while (!weft_ctx_cancel_requested(ctx) && wt_now_ns() < until)
            wt_sleep_us(100);
        if (weft_ctx_cancel_requested(ctx))
            atomic_fetch_add(&p->saw_cancel, 1);
    }
    atomic_fetch_sub(&p->in_flight, 1);
    if (x == p->fail_at)
        return 42;
    int64_t y = triple(x);
    memcpy(out, &y, sizeof(y));
    return 0;
}

static struct probe probe_new(void)
{
    struct probe p = {.fail_at = -1};
    return p;
}

static int64_t *iota(size_t n)
{
    int64_t *a = malloc(sizeof(int64_t) * (n ? n : 1));
    cr_assert(a != NULL);
    for (size_t i = 0; i < n; i++)
        a[i] = (int64_t)i;
    return a;
}

/* Input callback over [0, limit): item i is i; fails with `fail_status` at
 * index fail_at (SIZE_MAX: never), after returning the items before it.
 * Runs are at most `run` items (0: as many as asked), so short runs are
 * asked again. calls: items read plus the calls that ended the input;
 * after_end: calls after one that returned 0 or less (there must be none). */
struct source {
    size_t limit, fail_at, calls, run;
    int fail_status;
    size_t next_expected;
    bool out_of_order, ended;
    size_t after_end;
};

static ptrdiff_t source_fn(void *ud, size_t index, void *items, size_t max)
{
    struct source *s = ud;
    if (s->ended)
        s->after_end++;
    if (index != s->next_expected)
        s->out_of_order = true;
    if (index == s->fail_at || index >= s->limit) {
        s->calls++;
        s->ended = true;
        return index == s->fail_at ? s->fail_status : 0;
    }
    size_t k = max;
    if (s->run != 0 && k > s->run)
        k = s->run;
    if (k > s->limit - index)
        k = s->limit - index;
    if (s->fail_at > index && k > s->fail_at - index)
        k = s->fail_at - index;
    for (size_t j = 0; j < k; j++) {
        int64_t x = (int64_t)(index + j);
        memcpy((char *)items + j * sizeof(x), &x, sizeof(x));
    }
    s->calls += k;
    s->next_expected = index + k;
    return (ptrdiff_t)k;
}

/* Take every result; they must be triple(i) for i in [0, n), then EOF.
 * Odd n: through weft_map_iter_next_n, in runs of up to 5; n = 100000:
 * in place, through weft_map_iter_next_view. */
static void drain_and_check(weft_map_iter *it, size_t n)
{
    if (n == 100000) {
        size_t i = 0, k = 0, first = 0;
        const void *items = NULL;
        while (i < n) {
            int rc = weft_map_iter_next_view(it, &items, &k, &first);
            cr_assert(eq(int, rc, WEFT_OK), "item %zu: %s", i, weft_strerror(rc));
            cr_assert(eq(sz, first, i));
            cr_assert(k >= 1 && i + k <= n, "run of %zu at %zu", k, i);
            for (size_t j = 0; j < k; j++) {
                int64_t y;
                memcpy(&y, (const char *)items + j * sizeof(y), sizeof(y));
                cr_assert(eq(i64, y, triple((int64_t)(i + j))), "item %zu", i + j);
            }
            i += k;
        }
        cr_assert(eq(int, weft_map_iter_next_view(it, &items, &k, NULL), WEFT_EOF));
        cr_assert(eq(sz, k, 0));
        return;
    }
    if (n % 2 == 1) {
        int64_t ys[5];
        size_t i = 0, k = 0, first = 0;
        while (i < n) {
            int rc = weft_map_iter_next_n(it, ys, 5, &k, &first);
            cr_assert(eq(int, rc, WEFT_OK), "item %zu: %s", i, weft_strerror(rc));
            cr_assert(eq(sz, first, i));
            cr_assert(k >= 1 && k <= 5 && i + k <= n, "run of %zu at %zu", k, i);
            for (size_t j = 0; j < k; j++)
                cr_assert(eq(i64, ys[j], triple((int64_t)(i + j))), "item %zu", i + j);
            i += k;
        }
        cr_assert(eq(int, weft_map_iter_next_n(it, ys, 5, &k, NULL), WEFT_EOF));
        cr_assert(eq(sz, k, 0));
    }
    for (size_t i = 0; i < n && n % 2 == 0; i++) {
        int64_t y = -1;
        size_t idx = 12345;
        int rc = weft_map_iter_next(it, &y, &idx);
        cr_assert(eq(int, rc, WEFT_OK), "item %zu: %s", i, weft_strerror(rc));
        cr_assert(eq(sz, idx, i));
        cr_assert(eq(i64, y, triple((int64_t)i)), "item %zu", i);
    }
    int64_t y;
    cr_assert(eq(int, weft_map_iter_next(it, &y, NULL), WEFT_EOF));
    cr_assert(eq(int, weft_map_iter_next(it, &y, NULL), WEFT_EOF));
}

static void map_array(weft_pool *pool, size_t n, size_t window, size_t chunk)
{
    int64_t *in = iota(n);
    struct probe p = probe_new();
    weft_map_iter_options o = iter_opts(window, chunk, WEFT_FOREVER);
    weft_map_iter *it = NULL;
    cr_assert(eq(int, weft_map_iter_begin(&it, pool, probe_fn, &p, in, sizeof(int64_t), n,
                                          sizeof(int64_t), &o),
                 WEFT_OK));
    drain_and_check(it, n);
    weft_map_iter_end(it);
    cr_assert(eq(long, atomic_load(&p.runs), (long)n));
    free(in);
}

static void map_callback(weft_pool *pool, size_t n, size_t window, size_t chunk)
{
    struct probe p = probe_new();
    /* Runs of 7 with an explicit chunk: short runs are asked again. */
    struct source s = {.limit = n, .fail_at = SIZE_MAX, .run = chunk > 1 ? 7 : 0};
    weft_map_iter_options o = iter_opts(window, chunk, WEFT_FOREVER);
    weft_map_iter *it = NULL;
    cr_assert(eq(int, weft_map_iter_begin_input(&it, pool, probe_fn, &p, source_fn, &s,
                                                sizeof(int64_t), sizeof(int64_t), &o),
                 WEFT_OK));
    drain_and_check(it, n);
    weft_map_iter_end(it);
    cr_assert(eq(long, atomic_load(&p.runs), (long)n));
    cr_assert(not(s.out_of_order));
    cr_assert(eq(sz, s.calls, n + 1), "the callback is asked once past the end, no more");
    cr_assert(eq(sz, s.after_end, 0));
}

/* Every size with chunk 1, an explicit chunk, the defaults, and a window
 * that is not a multiple of the chunk. */
static void map_sizes(void (*map_one)(weft_pool *, size_t, size_t, size_t))
{
    weft_pool *pool = wtc_pool_new(2);
    size_t sizes[] = {0, 1, 64, 65, 100000};
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
        map_one(pool, sizes[k], 64, 1);
        map_one(pool, sizes[k], 64, 8);
        map_one(pool, sizes[k], 0, 0);
        map_one(pool, sizes[k], 1000, 3);
        map_one(pool, sizes[k], 1000, 0);
    }
    wtc_pool_drop(pool);
}

Test(mapiter, results_equal_the_serial_map_for_arrays)
{
    map_sizes(map_array);
}

Test(mapiter, results_equal_the_serial_map_for_an_input_callback)
{
    map_sizes(map_callback);
}

Test(mapiter, broadcast_input_and_discarded_results)
{
    weft_pool *pool = wtc_pool_new(2);
    int64_t one = 7;
    struct probe p = probe_new();
    weft_map_iter_options o = iter_opts(16, 2, WEFT_FOREVER);
    weft_map_iter *it = NULL;
    cr_assert(eq(int, weft_map_iter_begin(&it, pool, probe_fn, &p, &one, 0, 100, sizeof(int64_t),
                                          &o),
                 WEFT_OK));
    for (size_t i = 0; i < 100; i++) {
        int64_t y = 0;
        cr_assert(eq(int, weft_map_iter_next(it, &y, NULL), WEFT_OK));
        cr_assert(eq(i64, y, triple(7)));
    }
    cr_assert(eq(int, weft_map_iter_next(it, NULL, NULL), WEFT_EINVAL), "out NULL with out_size");
    cr_assert(eq(int, weft_map_iter_next(it, &one, NULL), WEFT_EOF));
    weft_map_iter_end(it);
    wtc_pool_drop(pool);
}

Test(mapiter, items_in_flight_never_exceed_the_window)
{
    weft_pool *pool = wtc_pool_new(2);
    size_t windows[] = {1, 3, 8, 50};
    size_t chunks[] = {1, 2, 4};
    for (size_t w = 0; w < sizeof(windows) / sizeof(windows[0]); w++) {
        for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
            struct probe p = probe_new();
            p.sleep_ns = 20000;
            struct source s = {.limit = 400, .fail_at = SIZE_MAX};
            weft_map_iter_options o = iter_opts(windows[w], chunks[c], WEFT_FOREVER);
            weft_map_iter *it = NULL;
            cr_assert(eq(int, weft_map_iter_begin_input(&it, pool, probe_fn, &p, source_fn, &s,
                                                        sizeof(int64_t), sizeof(int64_t), &o),
                         WEFT_OK));
            size_t taken = 0;
            int64_t y;
            while (weft_map_iter_next(it, &y, NULL) == WEFT_OK) {
                taken++;
                /* Submitted and not taken: the callback's reads, less the
                 * results handed out. */
                cr_assert(le(sz, s.calls - taken, windows[w]), "window %zu", windows[w]);
                if (taken % 50 == 0)
                    wt_sleep_us(2000); /* let the workers run ahead if they could */
            }
            weft_map_iter_end(it);
            cr_assert(eq(sz, taken, 400));
            cr_assert(le(long, atomic_load(&p.peak), (long)windows[w]));
        }
    }
    wtc_pool_drop(pool);
}

/* The window of an array map is in items too: with a window of 6 and slow
 * items, the peak stays at or below 6 whatever n is. */
Test(mapiter, default_window_does_not_grow_with_n)
{
    weft_pool *pool = wtc_pool_new(2);
    size_t n = 1000000;
    int64_t *in = iota(n);
    struct probe p = probe_new();
    weft_map_iter_options o = iter_opts(0, 1, WEFT_FOREVER);
    weft_map_iter *it = NULL;
    cr_assert(eq(int, weft_map_iter_begin(&it, pool, probe_fn, &p, in, sizeof(int64_t), n,
                                          sizeof(int64_t), &o),
                 WEFT_OK));
    wt_sleep_us(20000);
    /* Default window: 4 * workers * chunk = 8 items. */
    cr_assert(le(long, atomic_load(&p.runs), 8L));
    weft_map_iter_end(it);
    cr_assert(le(long, atomic_load(&p.runs), 8L));
    free(in);
    wtc_pool_drop(pool);
}

Test(mapiter, ending_after_the_first_result_leaves_later_items_unrun)
{
    weft_pool *pool = wtc_pool_new(1);
    size_t n = 1000;
    int64_t *in = iota(n);
    struct probe p = probe_new();
    p.sleep_ns = 2 * MS;
    weft_map_iter_options o = iter_opts(4, 1, WEFT_FOREVER);
    weft_map_iter *it = NULL;
    cr_assert(eq(int, weft_map_iter_begin(&it, pool, probe_fn, &p, in, sizeof(int64_t), n,
                                          sizeof(int64_t), &o),
                 WEFT_OK));
    int64_t y;
    cr_assert(eq(int, weft_map_iter_next(it, &y, NULL), WEFT_OK));
    cr_assert(eq(i64, y, triple(0)));
    weft_map_iter_end(it);
    long runs = atomic_load(&p.runs);
    /* Item 0 and at most the one item running when end() came. */
    cr_assert(le(long, runs, 2L), "%ld items ran", runs);
    cr_assert(eq(long, atomic_load(&p.in_flight), 0L), "end() waited for the running item");
    wt_sleep_us(20000);
    cr_assert(eq(long, atomic_load(&p.runs), runs), "nothing ran after end()");
    free(in);
    wtc_pool_drop(pool);
}

Test(mapiter, running_items_see_cancel_requested_after_end)
{
    weft_pool *pool = wtc_pool_new(2);
    struct probe p = probe_new();
    p.wait_cancel = true;
    struct source s = {.limit = 1000, .fail_at = SIZE_MAX};
    weft_map_iter_options o = iter_opts(8, 1, WEFT_FOREVER);
    weft_map_iter *it = NULL;
    cr_assert(eq(int, weft_map_iter_begin_input(&it, pool, probe_fn, &p, source_fn, &s,
                                                sizeof(int64_t), sizeof(int64_t), &o),
                 WEFT_OK));
    int64_t until = wt_now_ns() + 5000 * MS;
    while (atomic_load(&p.in_flight) < 2 && wt_now_ns() < until)
        wt_sleep_us(200);
    cr_assert(ge(long, atomic_load(&p.in_flight), 2L), "two items running");
    int64_t t0 = wt_now_ns();
    weft_map_iter_end(it);
    cr_assert(lt(i64, wt_now_ns() - t0, 2000 * MS), "end() returned once the items stopped");
    cr_assert(eq(long, atomic_load(&p.in_flight), 0L));
    cr_assert(eq(long, atomic_load(&p.saw_cancel), atomic_load(&p.runs)));
    cr_assert(le(long, atomic_load(&p.runs), 8L));
    wtc_pool_drop(pool);
}

/* window_items: the window in effect (window, or its default). */
static void check_failure(unsigned workers, size_t chunk, size_t window, size_t window_items)
{
    weft_pool *pool = wtc_pool_new(workers);
    size_t n = 10000, bad = 137;
    int64_t *in = iota(n);
    struct probe p = probe_new();
    p.fail_at = (int64_t)bad;
    weft_map_iter_options o = iter_opts(window, chunk, WEFT_FOREVER);
    weft_map_iter *it = NULL;
    cr_assert(eq(int, weft_map_iter_begin(&it, pool, probe_fn, &p, in, sizeof(int64_t), n,
                                          sizeof(int64_t), &o),
                 WEFT_OK));
    int64_t y;
    size_t idx = SIZE_MAX;
    for (size_t i = 0; i < bad; i++) {
        cr_assert(eq(int, weft_map_iter_next(it, &y, &idx), WEFT_OK), "item %zu", i);
        cr_assert(eq(i64, y, triple((int64_t)i)));
    }
    wtc_assert_task_failed(weft_map_iter_next(it, &y, &idx), 42);
    cr_assert(eq(sz, idx, bad));
    idx = 0;
    wtc_assert_task_failed(weft_map_iter_next(it, &y, &idx), 42); /* sticks */
    cr_assert(eq(sz, idx, bad));
    weft_map_iter_end(it);
    /* Items after the failure start only in chunks already running in
     * parallel, within the window. */
    long runs = atomic_load(&p.runs);
    cr_assert(le(long, runs, (long)(bad + 1 + window_items)), "%ld ran", runs);
    if (workers == 1 && chunk == 1)
        cr_assert(eq(long, runs, (long)(bad + 1)), "no item after the failure started");
    free(in);
    wtc_pool_drop(pool);
}

Test(mapiter, a_failing_item_stops_the_map_on_one_worker)
{
    check_failure(1, 1, 16, 16);
}

Test(mapiter, a_failing_item_stops_the_map_in_parallel_chunks)
{
    check_failure(2, 4, 64, 64);
    /* Default chunk min(1024, 10000 / (8 * 2)) = 625, window 4 * 2 * 625. */
    check_failure(2, 0, 0, 5000);
}

Test(mapiter, a_failing_input_callback_is_reported_at_its_index)
{
    weft_pool *pool = wtc_pool_new(2);
    struct probe p = probe_new();
    struct source s = {.limit = 1000, .fail_at = 300, .fail_status = -77};
    weft_map_iter_options o = iter_opts(32, 4, WEFT_FOREVER);
    weft_map_iter *it = NULL;
    cr_assert(eq(int, weft_map_iter_begin_input(&it, pool, probe_fn, &p, source_fn, &s,
                                                sizeof(int64_t), sizeof(int64_t), &o),
                 WEFT_OK));
    int64_t y;
    size_t idx;
    for (size_t i = 0; i < 300; i++) {
        cr_assert(eq(int, weft_map_iter_next(it, &y, &idx), WEFT_OK), "item %zu", i);
        cr_assert(eq(i64, y, triple((int64_t)i)));
    }
    wtc_assert_task_failed(weft_map_iter_next(it, &y, &idx), -77);
    cr_assert(eq(sz, idx, 300));
    wtc_assert_task_failed(weft_map_iter_next(it, &y, &idx), -77);
    cr_assert(eq(sz, s.calls, 301), "the callback is not asked again after failing");
    cr_assert(eq(sz, s.after_end, 0));
    weft_map_iter_end(it);
    cr_assert(eq(long, atomic_load(&p.runs), 300L));
    wtc_pool_drop(pool);
}

Test(mapiter, the_deadline_covers_the_whole_map_and_sticks)
{
    weft_pool *pool = wtc_pool_new(2);
    size_t n = 100000;
    int64_t *in = iota(n);
    struct probe p = probe_new();
    p.sleep_ns = 1 * MS;
    weft_map_iter_options o = iter_opts(4, 1, 60 * MS);
    weft_map_iter *it = NULL;
    int64_t t0 = wt_now_ns();
    cr_assert(eq(int, weft_map_iter_begin(&it, pool, probe_fn, &p, in, sizeof(int64_t), n,
                                          sizeof(int64_t), &o),
                 WEFT_OK));
    int64_t y;
    size_t i = 0;
    int rc;
    while ((rc = weft_map_iter_next(it, &y, NULL)) == WEFT_OK) {
        cr_assert(eq(i64, y, triple((int64_t)i)));
        i++;
    }
    int64_t dt = wt_now_ns() - t0;
    cr_assert(eq(int, rc, WEFT_ETIMEDOUT));
    cr_assert(ge(i64, dt, 60 * MS));
    cr_assert(lt(i64, dt, 3000 * MS));
    cr_assert(lt(sz, i, n));
    cr_assert(eq(int, weft_map_iter_next(it, &y, NULL), WEFT_ETIMEDOUT), "sticks");
    weft_map_iter_end(it);
    cr_assert(eq(long, atomic_load(&p.in_flight), 0L));
    long runs = atomic_load(&p.runs);
    cr_assert(le(long, runs, (long)i + 4 + 1));
    wt_sleep_us(10000);
    cr_assert(eq(long, atomic_load(&p.runs), runs), "nothing ran after end()");
    free(in);
    wtc_pool_drop(pool);
}

Test(mapiter, results_already_in_are_returned_after_the_deadline)
{
    weft_pool *pool = wtc_pool_new(2);
    int64_t in[4] = {0, 1, 2, 3};
    struct probe p = probe_new();
    weft_map_iter_options o = iter_opts(4, 1, 20 * MS);
    weft_map_iter *it = NULL;
    cr_assert(eq(int, weft_map_iter_begin(&it, pool, probe_fn, &p, in, sizeof(int64_t), 4,
                                          sizeof(int64_t), &o),
                 WEFT_OK));
    wt_sleep_us(60000);
    int64_t y;
    for (int i = 0; i < 4; i++)
        cr_assert(eq(int, weft_map_iter_next(it, &y, NULL), WEFT_OK));
    cr_assert(eq(int, weft_map_iter_next(it, &y, NULL), WEFT_EOF));
    weft_map_iter_end(it);
    wtc_pool_drop(pool);
}

Test(mapiter, bad_arguments_are_einval)
{
    weft_pool *pool = wtc_pool_new(1);
    int64_t in[2] = {1, 2};
    struct source s = {.limit = 2, .fail_at = SIZE_MAX};
    weft_map_iter *it = (weft_map_iter *)&s; /* must stay untouched */
    weft_map_iter *const sentinel = it;
    size_t o8 = sizeof(int64_t);
    cr_assert(eq(int, weft_map_iter_begin(NULL, pool, probe_fn, NULL, in, o8, 2, o8, NULL),
                 WEFT_EINVAL));
    cr_assert(eq(int, weft_map_iter_begin(&it, NULL, probe_fn, NULL, in, o8, 2, o8, NULL),
                 WEFT_EINVAL));
    cr_assert(eq(int, weft_map_iter_begin(&it, pool, NULL, NULL, in, o8, 2, o8, NULL),
                 WEFT_EINVAL));
    cr_assert(eq(int, weft_map_iter_begin(&it, pool, probe_fn, NULL, NULL, o8, 2, o8, NULL),
                 WEFT_EINVAL));
    cr_assert(eq(int, weft_map_iter_begin(&it, pool, probe_fn, NULL, in, SIZE_MAX / 2, 3, o8,
                                          NULL),
                 WEFT_EINVAL), "n * stride overflows");
    cr_assert(eq(int, weft_map_iter_begin(&it, pool, probe_fn, NULL, in, o8, 2, SIZE_MAX, NULL),
                 WEFT_EINVAL), "absurd out_size");
    weft_map_iter_options o = iter_opts(0, SIZE_MAX, WEFT_FOREVER);
    cr_assert(eq(int, weft_map_iter_begin_input(&it, pool, probe_fn, NULL, source_fn, &s, o8,
                                                o8, &o),
                 WEFT_EINVAL), "chunk too large for the default window");
    o = iter_opts(1 << 20, 0, WEFT_FOREVER);
    cr_assert(eq(int, weft_map_iter_begin_input(&it, pool, probe_fn, NULL, source_fn, &s,
                                                SIZE_MAX / 4, o8, &o),
                 WEFT_EINVAL), "absurd in_size");
    cr_assert(eq(int, weft_map_iter_begin_input(&it, pool, probe_fn, NULL, NULL, &s, o8, o8,
                                                NULL),
                 WEFT_EINVAL));
    o = iter_opts(0, 0, WEFT_FOREVER);
    o.struct_size = 1;
    cr_assert(eq(int, weft_map_iter_begin(&it, pool, probe_fn, NULL, in, o8, 2, o8, &o),
                 WEFT_EINVAL), "bad struct_size");
    o = iter_opts(0, 0, WEFT_FOREVER);
    o.reserved[1] = 1;
    cr_assert(eq(int, weft_map_iter_begin(&it, pool, probe_fn, NULL, in, o8, 2, o8, &o),
                 WEFT_EINVAL), "reserved words");
    cr_assert(eq(ptr, it, sentinel), "*out untouched on failure");
    cr_assert(eq(int, weft_map_iter_next(NULL, in, NULL), WEFT_EINVAL));
    size_t count = 9;
    cr_assert(eq(int, weft_map_iter_next_n(NULL, in, 4, &count, NULL), WEFT_EINVAL));
    cr_assert(eq(sz, count, 0));
    const void *view = NULL;
    cr_assert(eq(int, weft_map_iter_next_view(NULL, &view, &count, NULL), WEFT_EINVAL));
    weft_map_iter_end(NULL);
    weft_map_iter_options_init(NULL);
    /* n == 0 with in NULL is fine, and so is a zero window (the default). */
    struct probe p = probe_new();
    o = iter_opts(0, 0, WEFT_FOREVER);
    cr_assert(eq(int, weft_map_iter_begin(&it, pool, probe_fn, &p, NULL, o8, 0, o8, &o), WEFT_OK));
    int64_t y;
    cr_assert(eq(int, weft_map_iter_next(it, &y, NULL), WEFT_EOF));
    weft_map_iter_end(it);
    wtc_pool_drop(pool);
}

Test(mapiter, a_shut_down_pool_is_eshutdown)
{
    weft_pool *pool = wtc_pool_new(1);
    cr_assert(eq(int, weft_pool_shutdown(pool, WEFT_SHUTDOWN_WAIT), WEFT_OK));
    int64_t in[2] = {1, 2};
    weft_map_iter *it = NULL;
    cr_assert(eq(int, weft_map_iter_begin(&it, pool, probe_fn, NULL, in, sizeof(int64_t), 2,
                                          sizeof(int64_t), NULL),
                 WEFT_ESHUTDOWN));
    cr_assert(eq(ptr, it, NULL));
    wtc_pool_drop(pool);
}

/* next from inside a task helps, so a one-worker pool does not deadlock. */
static int iter_in_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)result;
    int64_t *sum = arg;
    struct probe p = probe_new();
    struct source s = {.limit = 500, .fail_at = SIZE_MAX};
    weft_map_iter *it = NULL;
    int rc = weft_map_iter_begin_input(&it, weft_ctx_pool(ctx), probe_fn, &p, source_fn, &s,
                                       sizeof(int64_t), sizeof(int64_t), NULL);
    if (rc != WEFT_OK)
        return rc;
    int64_t y;
    while ((rc = weft_map_iter_next(it, &y, NULL)) == WEFT_OK)
        *sum += y;
    weft_map_iter_end(it);
    return rc == WEFT_EOF ? 0 : rc;
}

Test(mapiter, next_inside_a_task_helps_on_one_worker)
{
    weft_pool *pool = wtc_pool_new(1);
    int64_t sum = 0;
    cr_assert(eq(int, wtc_run_task(pool, iter_in_task, &sum, NULL), WEFT_OK));
    int64_t want = 0;
    for (int64_t i = 0; i < 500; i++)
        want += triple(i);
    cr_assert(eq(i64, sum, want));
    wtc_pool_drop(pool);
}
