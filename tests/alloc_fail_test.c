/* Allocation-failure sweep. Every allocation and thread creation of the
 * runtime goes through runtime/alloc.h, whose hook this file sets to fail
 * the Nth one, for N = 1, 2, ... until a run makes fewer than N (no failure
 * was injected). Two modes: only the Nth fails (a passing shortage), or
 * the Nth and every later one (memory stays short). In every run each call
 * returns WEFT_OK or WEFT_ENOMEM (WEFT_EAGAIN for threads), nothing is lost
 * (every accepted task runs or is cancelled, every argument destructor runs
 * exactly once, every registered callback fires once) and nothing leaks
 * (the ASan build's LeakSanitizer checks each test's process at its exit;
 * tests/run sets detect_leaks=1). The paths: pool creation (unpinned and
 * pinned), submit from outside and from a worker (its deque grows), map,
 * wait sets and as_completed, done-callbacks, promises, fork/join deep
 * enough that the deque grows (the spawn stack is reserved at creation),
 * parallel_for
 * and parallel_reduce, each from outside and from a worker.
 *
 * The last test fails every allocation of the process (libc's malloc
 * family, which liburcu, hwloc and glibc's threads use too) around the
 * process's first pool, in a forked child per N: nothing may abort. It
 * replaces malloc itself, so it is built in the plain build only (the
 * sanitizers own malloc). */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "alloc.h"
#include "weft.h"
#include "weft_criterion.h"
#include "weft_tasks.h"

TestSuite(alloc_fail, .timeout = 120);

/* A sweep that needs more runs than this is a runaway. */
#define MAX_RUNS 20000

/* ---- the hook ------------------------------------------------------------ */

static atomic_long calls, fail_at, injected;
static atomic_bool sticky;

static bool fail_nth(enum weft__alloc_kind kind)
{
    (void)kind;
    long n = atomic_fetch_add(&calls, 1) + 1;
    bool fail = atomic_load(&sticky) ? n >= atomic_load(&fail_at) : n == atomic_load(&fail_at);
    if (fail)
        atomic_fetch_add(&injected, 1);
    return fail;
}

static void arm(long n, bool persistent)
{
    atomic_store(&calls, 0);
    atomic_store(&fail_at, n);
    atomic_store(&sticky, persistent);
    atomic_store(&injected, 0);
    atomic_store(&weft__alloc_hook, fail_nth);
}

/* Returns the number of failures injected since arm. */
static long disarm(void)
{
    atomic_store(&weft__alloc_hook, (weft__alloc_hook_fn)NULL);
    return atomic_load(&injected);
}

/* ---- the ledger: what happened in one run -------------------------------- */

static struct {
    atomic_long tried;     /* counted submissions attempted */
    atomic_long accepted;  /* ... that returned WEFT_OK */
    atomic_long ran;       /* counted task bodies run */
    atomic_long cancelled; /* accepted tasks whose futures report cancelled */
    atomic_long dtors;     /* argument destructors run */
    atomic_long cbs_added; /* done-callbacks registered (WEFT_OK) */
    atomic_long cbs_fired; /* done-callbacks run */
    atomic_long values;    /* promise values set (WEFT_OK) */
    atomic_long vdtors;    /* promise value destructors run */
    atomic_long bad;       /* calls in tasks that returned a code not allowed */
    atomic_int bad_rc;     /* the last such code */
} L;

static void ledger_reset(void)
{
    atomic_long *c[] = {&L.tried, &L.accepted, &L.ran, &L.cancelled, &L.dtors,
                        &L.cbs_added, &L.cbs_fired, &L.values, &L.vdtors, &L.bad};
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
        atomic_store(c[i], 0);
    atomic_store(&L.bad_rc, 0);
}

/* Success, or running out of memory or threads. */
static bool allowed(int rc)
{
    return rc == WEFT_OK || rc == WEFT_ENOMEM || rc == WEFT_EAGAIN;
}

/* Record a code returned inside a task (Criterion asserts on its own
 * thread only); `want` is the only code allowed. */
static void expect(int rc, int want)
{
    if (rc != want) {
        atomic_fetch_add(&L.bad, 1);
        atomic_store(&L.bad_rc, rc);
    }
}

static void expect_allowed(int rc)
{
    expect(allowed(rc) ? WEFT_OK : rc, WEFT_OK);
}

static void check_ledger(const char *name, long n)
{
    cr_assert(eq(long, atomic_load(&L.bad), 0), "%s, N=%ld: a call in a task returned %d", name,
              n, atomic_load(&L.bad_rc));
    cr_assert(eq(long, atomic_load(&L.dtors), atomic_load(&L.tried)),
              "%s, N=%ld: argument destructors", name, n);
    cr_assert(eq(long, atomic_load(&L.ran) + atomic_load(&L.cancelled),
                 atomic_load(&L.accepted)),
              "%s, N=%ld: tasks run + cancelled != accepted", name, n);
    cr_assert(eq(long, atomic_load(&L.cbs_fired), atomic_load(&L.cbs_added)),
              "%s, N=%ld: callbacks", name, n);
    cr_assert(eq(long, atomic_load(&L.vdtors), atomic_load(&L.values)),
              "%s, N=%ld: promise value destructors", name, n);
}

/* ---- counted tasks ------------------------------------------------------- */

static int count_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)arg;
    atomic_fetch_add(&L.ran, 1);
    *result = (void *)(uintptr_t)7;
    return 0;
}

static void count_dtor(void *arg)
{
    (void)arg;
    atomic_fetch_add(&L.dtors, 1);
}

/* Submit a counted task (out may be NULL: detached). */
static int submit_counted(weft_pool *p, weft_future **out)
{
    atomic_fetch_add(&L.tried, 1);
    int rc = weft_submit(p, count_task, NULL, count_dtor, out);
    if (rc == WEFT_OK)
        atomic_fetch_add(&L.accepted, 1);
    return rc;
}

static int count_cb(weft_future *f, void *ud)
{
    (void)f;
    (void)ud;
    atomic_fetch_add(&L.cbs_fired, 1);
    return 0;
}

/* Register count_cb on f, counting it if registered. */
static int add_counted_cb(weft_future *f)
{
    int rc = weft_future_add_done_callback(f, count_cb, NULL);
    if (rc == WEFT_OK)
        atomic_fetch_add(&L.cbs_added, 1);
    return rc;
}

/* Wait for f (which must succeed: nothing else may fail it) and release it. */
static void finish_future(weft_future *f)
{
    void *v = NULL;
    expect(weft_future_result(f, WEFT_FOREVER, &v), WEFT_OK);
    weft_future_release(f);
}

/* Run body(p) as a submitted task and wait for it (if it was accepted). */
static int run_inside(weft_pool *p, weft_fn body)
{
    weft_future *f = NULL;
    int rc = weft_submit(p, body, p, NULL, &f);
    expect_allowed(rc);
    if (rc == WEFT_OK)
        finish_future(f);
    return rc;
}

/* ---- the sweep ----------------------------------------------------------- */

typedef void (*body_fn)(weft_pool *p);

static weft_pool *pool_or_null(unsigned workers, weft_pin pin)
{
    weft_pool_options o;
    weft_pool_options_init(&o);
    o.workers = workers;
    o.pin = pin;
    weft_pool *p = NULL;
    int rc = weft_pool_create(&p, &o);
    cr_assert(allowed(rc), "pool create returned %d", rc);
    return rc == WEFT_OK ? p : NULL;
}

/* One run with the Nth allocation failing (and the later ones too if
 * persistent). Returns the number of failures injected. */
static long one_run(long n, bool persistent, unsigned workers, weft_pin pin, body_fn body)
{
    ledger_reset();
    arm(n, persistent);
    weft_pool *p = pool_or_null(workers, pin);
    if (p != NULL) {
        body(p);
        cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    }
    return disarm();
}

static void sweep_mode(const char *name, bool persistent, unsigned workers, weft_pin pin,
                       body_fn body)
{
    long n = 1;
    for (;; n++) {
        cr_assert(le(long, n, MAX_RUNS), "%s: the sweep does not end", name);
        long inj = one_run(n, persistent, workers, pin, body);
        check_ledger(name, n);
        if (inj == 0)
            break;
    }
    cr_log_info("%s, %u workers, %s: %ld runs", name, workers,
                persistent ? "Nth and later fail" : "Nth fails", n);
}

/* Both modes, on pools of one worker (no one else runs what it queues),
 * two, and four (more than this machine's CPUs). */
static void sweep(const char *name, weft_pin pin, body_fn body)
{
    static const unsigned workers[] = {1, 2, 4};
    for (size_t i = 0; i < sizeof(workers) / sizeof(workers[0]); i++) {
        sweep_mode(name, false, workers[i], pin, body);
        sweep_mode(name, true, workers[i], pin, body);
    }
}

/* ---- pool creation ------------------------------------------------------- */

static void one_task(weft_pool *p)
{
    weft_future *f = NULL;
    if (submit_counted(p, &f) == WEFT_OK)
        finish_future(f);
}

Test(alloc_fail, pool_create)
{
    sweep("create, unpinned", WEFT_PIN_NONE, one_task);
    sweep("create, compact", WEFT_PIN_COMPACT, one_task);
    sweep("create, scatter", WEFT_PIN_SCATTER, one_task);
}

/* ---- submit -------------------------------------------------------------- */

/* More than a slab's 63 futures, so the submitting thread refills. */
#define SUBMITS 150

static void submit_many(weft_pool *p, bool cancel)
{
    weft_future *fs[SUBMITS];
    size_t k = 0;
    for (int i = 0; i < SUBMITS; i++) {
        weft_future *f = NULL;
        int rc = submit_counted(p, cancel || i % 2 ? &f : NULL);
        cr_assert(allowed(rc), "submit returned %d", rc);
        if (f != NULL)
            fs[k++] = f;
    }
    if (cancel)
        cr_assert(eq(int, weft_pool_shutdown(p, WEFT_SHUTDOWN_CANCEL | WEFT_SHUTDOWN_WAIT),
                     WEFT_OK));
    for (size_t j = 0; j < k; j++) {
        if (weft_future_cancelled(fs[j]))
            atomic_fetch_add(&L.cancelled, 1);
        else
            cr_assert(eq(int, weft_future_result(fs[j], WEFT_FOREVER, NULL), WEFT_OK));
        weft_future_release(fs[j]);
    }
}

static void submit_outside(weft_pool *p)
{
    submit_many(p, false);
}

static void submit_and_cancel(weft_pool *p)
{
    submit_many(p, true);
}

Test(alloc_fail, submit_from_outside)
{
    sweep("submit from outside", WEFT_PIN_NONE, submit_outside);
    sweep("submit, shutdown cancel", WEFT_PIN_NONE, submit_and_cancel);
}

/* More than the deque's initial 256 slots: the worker's deque grows. */
#define INSIDE 700
#define INSIDE_FUTURES 40

static int submitter_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)arg;
    (void)result;
    weft_future *fs[INSIDE_FUTURES];
    size_t k = 0;
    for (int i = 0; i < INSIDE; i++) {
        weft_future *f = NULL;
        int rc = submit_counted(weft_ctx_pool(ctx), i < INSIDE_FUTURES ? &f : NULL);
        expect_allowed(rc);
        if (f != NULL)
            fs[k++] = f;
    }
    for (size_t j = 0; j < k; j++)
        finish_future(fs[j]);
    return 0;
}

static void submit_inside(weft_pool *p)
{
    run_inside(p, submitter_task);
}

Test(alloc_fail, submit_from_a_worker)
{
    sweep("submit from a worker", WEFT_PIN_NONE, submit_inside);
}

/* ---- map ----------------------------------------------------------------- */

#define MAP_N 600

static int square(weft_ctx *ctx, const void *in, void *out, void *ud)
{
    (void)ctx;
    (void)ud;
    int64_t x = *(const int64_t *)in;
    *(int64_t *)out = x * x;
    return 0;
}

/* weft_map over 0..MAP_N-1: WEFT_OK with every square, or WEFT_ENOMEM. */
static void map_once(weft_pool *p)
{
    int64_t in[MAP_N], out[MAP_N];
    for (int64_t i = 0; i < MAP_N; i++)
        in[i] = i, out[i] = -1;
    weft_map_options o;
    weft_map_options_init(&o);
    o.chunk = 7;
    o.max_in_flight = 8;
    int rc = weft_map(p, square, NULL, in, sizeof(in[0]), out, sizeof(out[0]), MAP_N, &o, NULL);
    expect(rc == WEFT_ENOMEM ? WEFT_OK : rc, WEFT_OK);
    for (int64_t i = 0; rc == WEFT_OK && i < MAP_N; i++)
        expect(out[i] == i * i ? WEFT_OK : -1, WEFT_OK);
}

static int map_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    map_once(arg);
    return 0;
}

static void map_both(weft_pool *p)
{
    map_once(p);
    run_inside(p, map_task);
}

Test(alloc_fail, map)
{
    sweep("map", WEFT_PIN_NONE, map_both);
}

/* ---- wait sets and as_completed ------------------------------------------ */

#define WAITED 6

static int nap_task(weft_ctx *ctx, void *arg, void **result)
{
    wt_sleep_us(50);
    return count_task(ctx, arg, result);
}

/* Submit up to WAITED napping tasks; fs gets the accepted ones, twice
 * (duplicates are allowed in a wait set). Returns how many were accepted. */
static size_t submit_naps(weft_pool *p, weft_future **fs)
{
    size_t k = 0;
    for (int i = 0; i < WAITED; i++) {
        atomic_fetch_add(&L.tried, 1);
        int rc = weft_submit(p, nap_task, NULL, count_dtor, &fs[k]);
        expect_allowed(rc);
        if (rc == WEFT_OK)
            atomic_fetch_add(&L.accepted, 1), k++;
    }
    for (size_t j = 0; j < k; j++)
        fs[k + j] = fs[j];
    return k;
}

/* weft_wait for all: on WEFT_OK every future is done; on WEFT_ENOMEM the
 * futures are waited one by one (a single future registers nothing). */
static void wait_all(weft_future **fs, size_t n)
{
    bool done[2 * WAITED];
    int rc = weft_wait(fs, n, WEFT_FOREVER, WEFT_ALL_COMPLETED, done);
    expect_allowed(rc);
    for (size_t j = 0; j < n; j++) {
        if (rc == WEFT_OK)
            expect(done[j] && weft_future_done(fs[j]) ? WEFT_OK : -1, WEFT_OK);
        else
            expect(weft_future_wait(fs[j], WEFT_FOREVER), WEFT_OK);
    }
}

/* Iterate in completion order: each distinct future exactly once. */
static void iterate(weft_future **fs, size_t n, size_t distinct)
{
    weft_as_completed *it = NULL;
    int rc = weft_as_completed_begin(&it, fs, n, WEFT_FOREVER);
    expect_allowed(rc);
    if (rc != WEFT_OK)
        return;
    size_t seen = 0;
    weft_future *f;
    while ((rc = weft_as_completed_next(it, &f, NULL)) == WEFT_OK)
        seen++;
    expect(rc, WEFT_EOF);
    expect(seen == distinct ? WEFT_OK : -1, WEFT_OK);
    weft_as_completed_end(it);
}

static void waits_once(weft_pool *p)
{
    weft_future *fs[2 * WAITED];
    size_t k = submit_naps(p, fs);
    expect_allowed(weft_wait(fs, 2 * k, WEFT_FOREVER, WEFT_FIRST_COMPLETED, NULL));
    iterate(fs, 2 * k, k);
    wait_all(fs, 2 * k);
    for (size_t j = 0; j < k; j++)
        weft_future_release(fs[j]);
}

static int waits_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    waits_once(arg);
    return 0;
}

static void waits_both(weft_pool *p)
{
    waits_once(p);
    run_inside(p, waits_task);
}

Test(alloc_fail, wait_sets_and_as_completed)
{
    sweep("wait sets", WEFT_PIN_NONE, waits_both);
}

/* ---- done-callbacks and promises ----------------------------------------- */

static atomic_int gate;

static int gated_task(weft_ctx *ctx, void *arg, void **result)
{
    wt_await_set(&gate, 20ll * 1000000000, 20);
    return count_task(ctx, arg, result);
}

static void value_dtor(void *v)
{
    (void)v;
    atomic_fetch_add(&L.vdtors, 1);
}

/* Callbacks on a task's future while it runs, and after it is done. */
static void callbacks_on_a_task(weft_pool *p)
{
    atomic_store(&gate, 0);
    weft_future *f = NULL;
    atomic_fetch_add(&L.tried, 1);
    int rc = weft_submit(p, gated_task, NULL, count_dtor, &f);
    cr_assert(allowed(rc));
    if (rc != WEFT_OK)
        return;
    atomic_fetch_add(&L.accepted, 1);
    for (int i = 0; i < 3; i++)
        cr_assert(allowed(add_counted_cb(f)));
    atomic_store(&gate, 1);
    cr_assert(eq(int, weft_future_wait(f, WEFT_FOREVER), WEFT_OK));
    cr_assert(eq(int, add_counted_cb(f), WEFT_OK)); /* done: runs at once */
    weft_future_release(f);
}

static int complete_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)result;
    int rc = weft_promise_set_result(arg, (void *)(uintptr_t)5, value_dtor);
    expect(rc, WEFT_OK);
    if (rc == WEFT_OK)
        atomic_fetch_add(&L.values, 1);
    return 0;
}

/* A promise with callbacks, completed by a task (or here if the task
 * cannot be submitted), waited on together with the task's future. */
static void promise_once(weft_pool *p)
{
    weft_future *pr = NULL, *f = NULL;
    int rc = weft_promise_create(&pr);
    cr_assert(allowed(rc));
    if (rc != WEFT_OK)
        return;
    cr_assert(allowed(add_counted_cb(pr)));
    rc = weft_submit(p, complete_task, pr, NULL, &f);
    cr_assert(allowed(rc));
    if (rc != WEFT_OK)
        complete_task(NULL, pr, NULL);
    weft_future *both[2] = {pr, f};
    wait_all(both, f != NULL ? 2 : 1);
    void *v = NULL;
    cr_assert(eq(int, weft_future_result(pr, 0, &v), WEFT_OK));
    cr_assert(eq(ptr, v, (void *)(uintptr_t)5));
    weft_future_release(f);
    weft_future_release(pr);
}

static void callbacks_and_promises(weft_pool *p)
{
    callbacks_on_a_task(p);
    promise_once(p);
}

Test(alloc_fail, callbacks_and_promises)
{
    sweep("callbacks and promises", WEFT_PIN_NONE, callbacks_and_promises);
}

/* ---- fork/join ----------------------------------------------------------- */

/* Deeper than the private stack's 256 initial slots and the deque's. */
#define CHAIN 1500

static atomic_long leaves;

static int leaf_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)arg;
    (void)result;
    atomic_fetch_add(&leaves, 1);
    return 0;
}

/* Each level spawns a leaf and recurses before syncing it: the private
 * stack holds one child per level, and a thief's request publishes them
 * all onto the deque. */
static int chain(weft_ctx *ctx, unsigned depth)
{
    if (depth == 0)
        return 0;
    weft_group g;
    void *c = NULL;
    weft_group_init(&g, ctx);
    expect(weft_spawn(&g, leaf_task, NULL, &c), WEFT_OK);
    int rc = chain(ctx, depth - 1);
    expect(weft_sync(&g), WEFT_OK);
    return rc;
}

static int forkjoin_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)arg;
    (void)result;
    atomic_store(&leaves, 0);
    chain(ctx, CHAIN);
    expect(atomic_load(&leaves) == CHAIN ? WEFT_OK : -1, WEFT_OK);
    void *v = NULL;
    expect(wt_fib_spawn(ctx, (void *)(uintptr_t)16, &v), WEFT_OK);
    expect((uintptr_t)v == wt_fib(16) ? WEFT_OK : -1, WEFT_OK);
    expect(weft_join(ctx, leaf_task, NULL, leaf_task, NULL), WEFT_OK);
    return 0;
}

static void forkjoin(weft_pool *p)
{
    run_inside(p, forkjoin_task);
}

Test(alloc_fail, fork_join)
{
    sweep("fork/join", WEFT_PIN_NONE, forkjoin);
}

/* ---- parallel_for and parallel_reduce ------------------------------------ */

#define RANGE 20000

static int sum_body(weft_ctx *ctx, size_t lo, size_t hi, void *ud)
{
    (void)ctx;
    atomic_fetch_add((atomic_long *)ud, (long)(hi - lo));
    return 0;
}

static int fold(weft_ctx *ctx, size_t lo, size_t hi, void *acc, void *ud)
{
    (void)ctx;
    (void)ud;
    *(uint64_t *)acc += hi - lo;
    return 0;
}

static void combine(void *into, const void *from, void *ud)
{
    (void)ud;
    *(uint64_t *)into += *(const uint64_t *)from;
}

static void parallel_once(weft_pool *p)
{
    atomic_long items = 0;
    int rc = weft_parallel_for(p, sum_body, &items, 0, RANGE, 16);
    expect_allowed(rc);
    expect(rc != WEFT_OK || atomic_load(&items) == RANGE ? WEFT_OK : -1, WEFT_OK);
    uint64_t total = 0;
    rc = weft_parallel_reduce(p, fold, combine, NULL, 0, RANGE, 16, &total, sizeof(total));
    expect_allowed(rc);
    expect(rc != WEFT_OK || total == RANGE ? WEFT_OK : -1, WEFT_OK);
}

static int parallel_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)result;
    parallel_once(arg);
    return 0;
}

static void parallel_both(weft_pool *p)
{
    parallel_once(p);
    run_inside(p, parallel_task);
}

Test(alloc_fail, parallel_for_and_reduce)
{
    sweep("parallel", WEFT_PIN_NONE, parallel_both);
}

/* ---- every allocation of the process, around its first pool -------------- */

#if !defined(WT_ASAN) && !defined(WT_TSAN)
/* glibc's own entry points, which the definitions below forward to. */
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);
extern void __libc_free(void *p);

static atomic_long libc_calls, libc_fail_at; /* fail_at 0: nothing fails */
static atomic_bool libc_sticky, libc_injected;

static bool libc_fails(void)
{
    long at = atomic_load_explicit(&libc_fail_at, memory_order_relaxed);
    if (at == 0)
        return false;
    long n = atomic_fetch_add(&libc_calls, 1) + 1;
    if (n < at || (n > at && !atomic_load(&libc_sticky)))
        return false;
    atomic_store(&libc_injected, true);
    errno = ENOMEM;
    return true;
}

void *malloc(size_t size)
{
    return libc_fails() ? NULL : __libc_malloc(size);
}

void *calloc(size_t n, size_t size)
{
    return libc_fails() ? NULL : __libc_calloc(n, size);
}

void *realloc(void *p, size_t size)
{
    return libc_fails() ? NULL : __libc_realloc(p, size);
}

void *aligned_alloc(size_t align, size_t size)
{
    return libc_fails() ? NULL : __libc_memalign(align, size);
}

int posix_memalign(void **out, size_t align, size_t size)
{
    void *p = libc_fails() ? NULL : __libc_memalign(align, size);
    if (p == NULL)
        return ENOMEM;
    *out = p;
    return 0;
}

void free(void *p)
{
    __libc_free(p);
}

/* Threads of this process (after a fork: 1 plus any left running). */
static int thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    if (d == NULL)
        return -1;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* In the forked child: the process's first pool, used so its deque grows,
 * with the Nth allocation (and later ones if sticky) failing. Exit status:
 * outcome * 2 + injected; outcome 0 = ran, 1 = WEFT_ENOMEM/EAGAIN, 2 = a
 * code not allowed, 3 = a thread left running after destroy. */
static int first_pool_child(long n, bool persistent)
{
    atomic_store(&libc_sticky, persistent);
    atomic_store(&libc_fail_at, n);
    weft_pool *p = NULL;
    int rc = wt_pool_new(&p, 2), outcome = rc == WEFT_OK ? 0 : allowed(rc) ? 1 : 2;
    if (rc == WEFT_OK) {
        weft_future *f = NULL;
        rc = weft_submit(p, submitter_task, NULL, NULL, &f);
        if (rc == WEFT_OK)
            rc = weft_future_wait(f, WEFT_FOREVER);
        weft_future_release(f);
        outcome = atomic_load(&L.bad) != 0 || !allowed(rc) ? 2 : rc != WEFT_OK;
        if (weft_pool_destroy(p) != WEFT_OK)
            outcome = 2;
    }
    atomic_store(&libc_fail_at, 0);
    if (outcome < 2 && thread_count() != 1)
        outcome = 3;
    return outcome * 2 + atomic_load(&libc_injected);
}

/* Run first_pool_child in a fresh child; returns its exit status. */
static int in_child(long n, bool persistent)
{
    pid_t pid = fork();
    cr_assert(ge(int, pid, 0));
    if (pid == 0)
        _exit(first_pool_child(n, persistent));
    int st = 0;
    cr_assert(eq(int, waitpid(pid, &st, 0), pid));
    bool exited = WIFEXITED(st);
    cr_assert(exited, "N=%ld: the child died of signal %d", n, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    return WEXITSTATUS(st);
}

static void libc_sweep(bool persistent)
{
    long n = 1;
    for (;; n++) {
        cr_assert(le(long, n, MAX_RUNS), "the sweep does not end");
        int st = in_child(n, persistent);
        cr_assert(lt(int, st / 2, 2), "N=%ld: outcome %d", n, st / 2);
        if (st % 2 == 0)
            break;
    }
    cr_log_info("first pool, every allocation, %s: %ld runs",
                persistent ? "Nth and later fail" : "Nth fails", n);
}

/* Unpinned: a pinned pool's first topology load runs hwloc's and ld.so's
 * plugin loading, which (hwloc 2.9, glibc 2.36) assert, crash or _exit
 * when an allocation fails there. */
Test(alloc_fail, the_first_pool_never_aborts_when_any_allocation_fails)
{
    libc_sweep(false);
    libc_sweep(true);
}
#else
Test(alloc_fail, the_first_pool_never_aborts_when_any_allocation_fails)
{
    cr_skip_test("replaces malloc: plain builds only (the sanitizers own malloc)");
}
#endif
