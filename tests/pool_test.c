/* Unit tests for the pool lifecycle (runtime/pool.c, submit.c, loop.c): creation and
 * options, pinning, thread names, hooks, stack size, worker indices, argument
 * checking, shutdown in all its forms, statistics and weft_strerror.
 *
 * Criterion asserts only on the test's own thread: tasks, hooks and helper
 * threads record what they saw in atomics, and the test checks afterwards.
 * Every wait in this file has a deadline, so a lost wake-up fails instead of
 * hanging (the suite timeout is the last resort). */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "weft.h"
#include "weft_criterion.h"
#include "weft_tasks.h"

TestSuite(pool, .timeout = 30);

#define MAX_WORKERS 16
#define DEADLINE_NS (10ll * 1000000000) /* how long any "eventually" may take */

/* ---- helpers ------------------------------------------------------------- */

/* Poll until *v >= want or the deadline passes. Returns the last value. */
static int await_at_least(atomic_int *v, int want)
{
    return wt_await_at_least(v, want, DEADLINE_NS, 200);
}

/* A task record: what ran, where, and how often its argument was freed. */
struct rec {
    atomic_int ran;
    atomic_int dtor;
    atomic_int cb;
    atomic_int worker;
};

static int rec_task(weft_ctx *ctx, void *arg, void **result)
{
    struct rec *r = arg;
    atomic_store(&r->worker, weft_worker_index());
    atomic_fetch_add(&r->ran, 1);
    *result = r;
    return 0;
}

static void rec_dtor(void *arg)
{
    struct rec *r = arg;
    atomic_fetch_add(&r->dtor, 1);
}

static int rec_cb(weft_future *f, void *ud)
{
    struct rec *r = ud;
    atomic_fetch_add(&r->cb, 1);
    return 0;
}

/* A task that holds its worker until the gate opens (at most 20 s). It polls
 * with nanosleep, not a weft wait, so the worker does not help meanwhile. */
struct gate {
    atomic_int started;
    atomic_int open;
};

static int gate_task(weft_ctx *ctx, void *arg, void **result)
{
    struct gate *g = arg;
    atomic_fetch_add(&g->started, 1);
    wt_await_set(&g->open, 20ll * 1000000000, 100);
    return 0;
}

static weft_pool *make_pool(unsigned workers)
{
    weft_pool *p = wtc_pool_new(workers);
    cr_assert(p != NULL);
    return p;
}

/* Submit one task and check it runs and returns its value. */
static void check_pool_works(weft_pool *p)
{
    weft_future *f = NULL;
    cr_assert(eq(int, weft_submit(p, wt_value_task, (void *)(uintptr_t)42, NULL, &f), WEFT_OK));
    void *v = NULL;
    cr_assert(eq(int, weft_future_result(f, DEADLINE_NS, &v), WEFT_OK));
    cr_assert(eq(ptr, v, (void *)(uintptr_t)42));
    weft_future_release(f);
}

static unsigned affinity_cpus(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    cr_assert(eq(int, sched_getaffinity(0, sizeof(set), &set), 0));
    return (unsigned)CPU_COUNT(&set);
}

/* ---- creation and options ------------------------------------------------- */

Test(pool, create_with_null_options_uses_cpus_in_affinity_mask)
{
    weft_pool *p = NULL;
    cr_assert(eq(int, weft_pool_create(&p, NULL), WEFT_OK));
    cr_assert(eq(u32, weft_pool_size(p), affinity_cpus()));
    check_pool_works(p);
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
}

Test(pool, options_init_sets_defaults_and_ignores_null)
{
    weft_pool_options o;
    memset(&o, 0xab, sizeof(o));
    weft_pool_options_init(&o);
    cr_assert(eq(sz, o.struct_size, sizeof(o)));
    cr_assert(eq(u32, o.workers, 0));
    cr_assert(eq(int, (int)o.pin, WEFT_PIN_NONE));
    cr_assert(eq(u32, o.spin_us, 50));
    cr_assert(eq(sz, o.stack_size, 0));
    cr_assert(o.name_prefix == NULL && o.on_worker_start == NULL && o.on_worker_stop == NULL);
    for (int i = 0; i < 8; i++)
        cr_assert(eq(u64, o.reserved[i], 0));
    weft_pool_options_init(NULL);
    /* Defaults from _init create a pool with one worker per allowed CPU. */
    weft_pool *p = NULL;
    cr_assert(eq(int, weft_pool_create(&p, &o), WEFT_OK));
    cr_assert(eq(u32, weft_pool_size(p), affinity_cpus()));
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
}

/* Every worker runs a task: n tasks meet at a spinning rendezvous (with a
 * deadline), which only completes if n distinct workers hold one each. */
struct meet {
    atomic_int arrived;
    unsigned n;
    atomic_int seen[MAX_WORKERS];
    atomic_int bad_index;
};

static int meet_task(weft_ctx *ctx, void *arg, void **result)
{
    struct meet *m = arg;
    int i = weft_worker_index();
    if (i < 0 || (unsigned)i >= m->n || (unsigned)i != weft_ctx_worker(ctx))
        atomic_store(&m->bad_index, 1);
    else
        atomic_fetch_add(&m->seen[i], 1);
    atomic_fetch_add(&m->arrived, 1);
    int64_t end = wt_now_ns() + DEADLINE_NS;
    while (atomic_load(&m->arrived) < (int)m->n && wt_now_ns() < end)
        wt_sleep_us(50);
    return 0;
}

static void check_workers(unsigned n)
{
    weft_pool *p = make_pool(n);
    cr_assert(eq(u32, weft_pool_size(p), n));
    struct meet m = {.n = n};
    weft_future *fs[MAX_WORKERS];
    for (unsigned i = 0; i < n; i++)
        cr_assert(eq(int, weft_submit(p, meet_task, &m, NULL, &fs[i]), WEFT_OK));
    for (unsigned i = 0; i < n; i++) {
        cr_assert(eq(int, weft_future_wait(fs[i], 2 * DEADLINE_NS), WEFT_OK));
        weft_future_release(fs[i]);
    }
    cr_assert(eq(int, atomic_load(&m.arrived), (int)n));
    cr_assert(eq(int, atomic_load(&m.bad_index), 0));
    for (unsigned i = 0; i < n; i++)
        cr_assert(eq(int, atomic_load(&m.seen[i]), 1), "worker %u ran %d meet tasks", i,
                  atomic_load(&m.seen[i]));
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
}

Test(pool, one_worker_runs_tasks)
{
    check_workers(1);
}

Test(pool, two_workers_all_take_part)
{
    check_workers(2);
}

Test(pool, three_workers_all_take_part_even_oversubscribed)
{
    check_workers(3);
}

/* ---- pinning ---------------------------------------------------------------- */

struct pin_seen {
    atomic_int count[MAX_WORKERS]; /* CPUs in the worker's affinity mask */
    atomic_int cpu[MAX_WORKERS];   /* the first of them */
    atomic_int subset_bad;         /* a CPU outside the process mask */
    cpu_set_t process;
};

static int pin_hook(unsigned worker, void *ud)
{
    struct pin_seen *s = ud;
    cpu_set_t set;
    CPU_ZERO(&set);
    if (worker >= MAX_WORKERS ||
        pthread_getaffinity_np(pthread_self(), sizeof(set), &set) != 0) {
        atomic_store(&s->subset_bad, 1);
        return 0;
    }
    atomic_store(&s->count[worker], CPU_COUNT(&set));
    int first = -1;
    for (int c = 0; c < CPU_SETSIZE; c++) {
        if (!CPU_ISSET(c, &set))
            continue;
        if (first < 0)
            first = c;
        if (!CPU_ISSET(c, &s->process))
            atomic_store(&s->subset_bad, 1);
    }
    atomic_store(&s->cpu[worker], first);
    return 0;
}

/* Create a pool with the given policy; the start hook records each worker's
 * affinity. Returns 0 if every check passed, else a line number (so it can
 * also run in a forked child without Criterion). */
static int run_pin(weft_pin pin, unsigned n, struct pin_seen *s)
{
    memset(s, 0, sizeof(*s));
    if (sched_getaffinity(0, sizeof(s->process), &s->process) != 0)
        return __LINE__;
    weft_pool_options o;
    weft_pool_options_init(&o);
    o.workers = n;
    o.pin = pin;
    o.on_worker_start = pin_hook;
    o.hook_ud = s;
    weft_pool *p = NULL;
    if (weft_pool_create(&p, &o) != WEFT_OK)
        return __LINE__;
    if (weft_pool_destroy(p) != WEFT_OK) /* joins: every hook has run */
        return __LINE__;
    if (atomic_load(&s->subset_bad))
        return __LINE__;
    int allowed = CPU_COUNT(&s->process);
    for (unsigned i = 0; i < n; i++) {
        int c = atomic_load(&s->count[i]);
        if (pin == WEFT_PIN_NONE && c != allowed)
            return __LINE__;
        if (pin != WEFT_PIN_NONE && c != 1)
            return __LINE__;
    }
    if (pin == WEFT_PIN_COMPACT && n <= (unsigned)allowed)
        for (unsigned i = 0; i < n; i++)
            for (unsigned j = 0; j < i; j++)
                if (atomic_load(&s->cpu[i]) == atomic_load(&s->cpu[j]))
                    return __LINE__;
    return 0;
}

Test(pool, pin_none_leaves_workers_on_the_process_mask)
{
    struct pin_seen s;
    cr_assert(eq(int, run_pin(WEFT_PIN_NONE, 2, &s), 0));
}

Test(pool, pin_compact_binds_each_worker_to_one_distinct_allowed_cpu)
{
    struct pin_seen s;
    cr_assert(eq(int, run_pin(WEFT_PIN_COMPACT, 2, &s), 0));
    cr_assert(eq(int, run_pin(WEFT_PIN_COMPACT, 1, &s), 0));
}

Test(pool, pin_scatter_binds_each_worker_to_one_allowed_cpu)
{
    struct pin_seen s;
    cr_assert(eq(int, run_pin(WEFT_PIN_SCATTER, 2, &s), 0));
}

Test(pool, pinning_more_workers_than_cpus_stays_inside_the_mask)
{
    struct pin_seen s;
    unsigned n = affinity_cpus() + 1;
    if (n > MAX_WORKERS)
        n = MAX_WORKERS;
    cr_assert(eq(int, run_pin(WEFT_PIN_COMPACT, n, &s), 0));
    cr_assert(eq(int, run_pin(WEFT_PIN_SCATTER, n, &s), 0));
}

/* In a forked, single-threaded child restricted to the last allowed CPU (as
 * taskset does): the default worker count is 1 and pinned workers never
 * escape the mask (hwloc alone would bind outside it). */
static int restricted_child(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) != 0)
        return __LINE__;
    int last = -1;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &set))
            last = c;
    CPU_ZERO(&set);
    CPU_SET(last, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0)
        return __LINE__;
    weft_pool *p = NULL;
    if (weft_pool_create(&p, NULL) != WEFT_OK)
        return __LINE__;
    unsigned n = weft_pool_size(p);
    if (weft_pool_destroy(p) != WEFT_OK || n != 1)
        return __LINE__;
    struct pin_seen s;
    int rc;
    if ((rc = run_pin(WEFT_PIN_COMPACT, 2, &s)) != 0)
        return 1000 + rc;
    for (int i = 0; i < 2; i++)
        if (atomic_load(&s.cpu[i]) != last)
            return __LINE__;
    if ((rc = run_pin(WEFT_PIN_SCATTER, 2, &s)) != 0)
        return 2000 + rc;
    for (int i = 0; i < 2; i++)
        if (atomic_load(&s.cpu[i]) != last)
            return __LINE__;
    return 0;
}

Test(pool, default_workers_and_pinning_follow_a_restricted_affinity_mask)
{
    if (affinity_cpus() < 2)
        cr_skip_test("needs at least 2 CPUs");
    int fds[2];
    cr_assert(eq(int, pipe(fds), 0));
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        int rc = restricted_child();
        (void)!write(fds[1], &rc, sizeof(rc));
        _exit(0);
    }
    close(fds[1]);
    int rc = -1;
    ssize_t got = read(fds[0], &rc, sizeof(rc));
    int st = 0;
    cr_assert(eq(int, waitpid(pid, &st, 0), pid));
    cr_assert(eq(sz, (size_t)got, sizeof(rc)), "child died (status %d)", st);
    cr_assert(eq(int, rc, 0), "child check failed at pool_test.c line %d", rc % 1000);
}

/* ---- thread names, hooks, stack size, indices --------------------------------- */

struct name_seen {
    char name[32];
    atomic_int index;
    atomic_int rc;
};

static int name_task(weft_ctx *ctx, void *arg, void **result)
{
    struct name_seen *s = arg;
    atomic_store(&s->rc, pthread_getname_np(pthread_self(), s->name, sizeof(s->name)));
    atomic_store(&s->index, weft_worker_index());
    return 0;
}

static void check_name(const char *prefix, const char *expect_prefix)
{
    weft_pool_options o;
    weft_pool_options_init(&o);
    o.workers = 2;
    o.name_prefix = prefix;
    weft_pool *p = NULL;
    cr_assert(eq(int, weft_pool_create(&p, &o), WEFT_OK));
    for (int k = 0; k < 8; k++) {
        struct name_seen s = {.index = -1, .rc = -1};
        weft_future *f;
        cr_assert(eq(int, weft_submit(p, name_task, &s, NULL, &f), WEFT_OK));
        cr_assert(eq(int, weft_future_wait(f, DEADLINE_NS), WEFT_OK));
        weft_future_release(f);
        cr_assert(eq(int, atomic_load(&s.rc), 0));
        char want[64];
        snprintf(want, sizeof(want), "%s%d", expect_prefix, atomic_load(&s.index));
        cr_assert(eq(str, s.name, want));
    }
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
}

Test(pool, workers_are_named_prefix_and_index)
{
    check_name(NULL, "weft-");
    check_name("tp-", "tp-");
}

struct hooks {
    atomic_int start[MAX_WORKERS];
    atomic_int stop[MAX_WORKERS];
    atomic_int bad; /* wrong ud, index, thread or order */
    atomic_int tasks_after_stop;
    int fail_start; /* on_worker_start returns this */
};

static int start_hook(unsigned worker, void *ud)
{
    struct hooks *h = ud;
    if (worker >= MAX_WORKERS || weft_worker_index() != (int)worker) {
        atomic_store(&h->bad, 1);
        return 0;
    }
    if (atomic_load(&h->stop[worker]) != 0)
        atomic_store(&h->bad, 2);
    atomic_fetch_add(&h->start[worker], 1);
    return h->fail_start;
}

static int stop_hook(unsigned worker, void *ud)
{
    struct hooks *h = ud;
    if (worker >= MAX_WORKERS || weft_worker_index() != (int)worker) {
        atomic_store(&h->bad, 3);
        return 0;
    }
    if (atomic_load(&h->start[worker]) != 1)
        atomic_store(&h->bad, 4);
    atomic_fetch_add(&h->stop[worker], 1);
    return 7; /* ignored */
}

static weft_pool *make_hooked_pool(unsigned n, struct hooks *h)
{
    weft_pool_options o;
    weft_pool_options_init(&o);
    o.workers = n;
    o.on_worker_start = start_hook;
    o.on_worker_stop = stop_hook;
    o.hook_ud = h;
    weft_pool *p = NULL;
    cr_assert(eq(int, weft_pool_create(&p, &o), WEFT_OK));
    return p;
}

Test(pool, start_and_stop_hooks_run_once_per_worker_on_that_worker)
{
    for (unsigned n = 1; n <= 3; n++) {
        struct hooks h = {0};
        weft_pool *p = make_hooked_pool(n, &h);
        check_pool_works(p);
        cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
        cr_assert(eq(int, atomic_load(&h.bad), 0));
        for (unsigned i = 0; i < MAX_WORKERS; i++) {
            cr_assert(eq(int, atomic_load(&h.start[i]), i < n ? 1 : 0), "n=%u worker %u", n, i);
            cr_assert(eq(int, atomic_load(&h.stop[i]), i < n ? 1 : 0), "n=%u worker %u", n, i);
        }
    }
}

Test(pool, hooks_run_even_if_destroyed_at_once)
{
    struct hooks h = {0};
    weft_pool *p = make_hooked_pool(3, &h);
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    cr_assert(eq(int, atomic_load(&h.bad), 0));
    for (unsigned i = 0; i < 3; i++) {
        cr_assert(eq(int, atomic_load(&h.start[i]), 1));
        cr_assert(eq(int, atomic_load(&h.stop[i]), 1));
    }
}

Test(pool, failing_start_hook_breaks_the_pool)
{
    struct hooks h = {.fail_start = 1};
    weft_pool *p = make_hooked_pool(2, &h);
    /* Hooks run on the workers, possibly after create returned: a task
     * accepted before the pool was marked broken must fail with EBROKEN
     * when a worker reaches it (it never runs). */
    struct rec early = {0};
    weft_future *f = NULL;
    int rc = weft_submit(p, rec_task, &early, rec_dtor, &f);
    if (rc == WEFT_OK) {
        cr_assert(eq(int, weft_future_result(f, DEADLINE_NS, NULL), WEFT_EBROKEN));
        weft_future_release(f);
    } else {
        cr_assert(eq(int, rc, WEFT_EBROKEN), "submit gave %d (%s)", rc, weft_strerror(rc));
    }
    /* Once the hooks have returned (the flag is stored right after), submit
     * itself fails. */
    cr_assert(eq(int, await_at_least(&h.start[0], 1), 1));
    cr_assert(eq(int, await_at_least(&h.start[1], 1), 1));
    wt_sleep_us(50000);
    struct rec r = {0};
    f = (weft_future *)&r; /* sentinel: must stay untouched */
    rc = weft_submit(p, rec_task, &r, rec_dtor, &f);
    cr_assert(eq(int, rc, WEFT_EBROKEN), "submit gave %d (%s)", rc, weft_strerror(rc));
    cr_assert(eq(ptr, (void *)f, (void *)&r));
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    for (struct rec *x = &early; x; x = x == &early ? &r : NULL) {
        cr_assert(eq(int, atomic_load(&x->dtor), 1));
        cr_assert(eq(int, atomic_load(&x->ran), 0));
    }
    for (unsigned i = 0; i < 2; i++)
        cr_assert(eq(int, atomic_load(&h.stop[i]), 1));
}

struct stack_seen {
    atomic_size_t size;
    atomic_int sum;
};

static int stack_task(weft_ctx *ctx, void *arg, void **result)
{
    struct stack_seen *s = arg;
    pthread_attr_t a;
    size_t size = 0;
    void *addr = NULL;
    if (pthread_getattr_np(pthread_self(), &a) == 0) {
        pthread_attr_getstack(&a, &addr, &size);
        pthread_attr_destroy(&a);
    }
    atomic_store(&s->size, size);
    /* Use about 1 MiB of this worker's stack. */
    volatile unsigned char big[1u << 20];
    for (size_t i = 0; i < sizeof(big); i += 512)
        big[i] = (unsigned char)i;
    int sum = 0;
    for (size_t i = 0; i < sizeof(big); i += 4096)
        sum += big[i];
    atomic_store(&s->sum, sum);
    return 0;
}

static size_t worker_stack_size(size_t requested, bool big)
{
    weft_pool_options o;
    weft_pool_options_init(&o);
    o.workers = 1;
    o.stack_size = requested;
    weft_pool *p = NULL;
    cr_assert(eq(int, weft_pool_create(&p, &o), WEFT_OK));
    struct stack_seen s = {0};
    weft_future *f;
    cr_assert(eq(int, weft_submit(p, big ? stack_task : wt_value_task, &s, NULL, &f), WEFT_OK));
    cr_assert(eq(int, weft_future_result(f, DEADLINE_NS, NULL), WEFT_OK));
    weft_future_release(f);
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    return atomic_load(&s.size);
}

Test(pool, stack_size_is_honoured)
{
    /* 4 MiB: a task can use ~1 MiB of stack, and the thread's stack is that
     * size (not the 8 MiB default). */
    size_t got = worker_stack_size(4u << 20, true);
    cr_assert(got >= (4u << 20) && got < (5u << 20), "stack %zu bytes", got);
    got = worker_stack_size(0, true);
    cr_assert(got >= (8u << 20) && got < (9u << 20), "default stack %zu bytes", got);
}

Test(pool, worker_index_is_minus_one_outside_and_size_reports_workers)
{
    cr_assert(eq(int, weft_worker_index(), -1));
    cr_assert(eq(u32, weft_pool_size(NULL), 0));
    for (unsigned n = 1; n <= 3; n++) {
        weft_pool *p = make_pool(n);
        cr_assert(eq(u32, weft_pool_size(p), n));
        struct rec rs[64];
        weft_future *fs[64];
        memset(rs, 0, sizeof(rs));
        for (int i = 0; i < 64; i++) {
            atomic_store(&rs[i].worker, -2);
            cr_assert(eq(int, weft_submit(p, rec_task, &rs[i], NULL, &fs[i]), WEFT_OK));
        }
        for (int i = 0; i < 64; i++) {
            cr_assert(eq(int, weft_future_wait(fs[i], DEADLINE_NS), WEFT_OK));
            weft_future_release(fs[i]);
            int w = atomic_load(&rs[i].worker);
            cr_assert(w >= 0 && w < (int)n, "task %d saw worker index %d (n=%u)", i, w, n);
        }
        cr_assert(eq(int, weft_worker_index(), -1));
        cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    }
}

/* ---- bad input ----------------------------------------------------------------- */

Test(pool, create_rejects_bad_arguments)
{
    weft_pool_options o;
    weft_pool *p = (weft_pool *)&o; /* sentinel: out is written only on success */
    cr_assert(eq(int, weft_pool_create(NULL, NULL), WEFT_EINVAL));

    weft_pool_options_init(&o);
    cr_assert(eq(int, weft_pool_create(NULL, &o), WEFT_EINVAL));

    o.struct_size = 0;
    cr_assert(eq(int, weft_pool_create(&p, &o), WEFT_EINVAL));
    o.struct_size = 1;
    cr_assert(eq(int, weft_pool_create(&p, &o), WEFT_EINVAL));
    o.struct_size = sizeof(o) + 1;
    cr_assert(eq(int, weft_pool_create(&p, &o), WEFT_EINVAL));
    o.struct_size = SIZE_MAX;
    cr_assert(eq(int, weft_pool_create(&p, &o), WEFT_EINVAL));

    weft_pool_options_init(&o);
    o.pin = (weft_pin)3;
    cr_assert(eq(int, weft_pool_create(&p, &o), WEFT_EINVAL));
    o.pin = (weft_pin)-1;
    cr_assert(eq(int, weft_pool_create(&p, &o), WEFT_EINVAL));

    for (int i = 0; i < 8; i++) {
        weft_pool_options_init(&o);
        o.reserved[i] = 1;
        cr_assert(eq(int, weft_pool_create(&p, &o), WEFT_EINVAL), "reserved[%d]", i);
    }
    cr_assert(eq(ptr, (void *)p, (void *)&o));
}

/* ---- the worker cap ------------------------------------------------------------ */

/* Peak resident memory of this process (each test runs in a process of
 * its own), in KiB; -1 if unknown. */
static long peak_rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (strncmp(line, "VmHWM:", 6) == 0)
            kib = strtol(line + 6, NULL, 10);
    if (f != NULL)
        fclose(f);
    return kib;
}

Test(pool, more_than_max_workers_is_einval_at_once)
{
    const unsigned counts[] = {WEFT_MAX_WORKERS + 1, 1u << 16, 1u << 24, UINT32_MAX};
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
        weft_pool_options o;
        weft_pool_options_init(&o);
        o.workers = counts[i];
        weft_pool *p = NULL;
        int64_t t0 = wt_now_ns();
        cr_assert(eq(int, weft_pool_create(&p, &o), WEFT_EINVAL), "%u workers", counts[i]);
        cr_assert(lt(i64, wt_now_ns() - t0, 1000000000ll), "%u workers: slow EINVAL",
                  counts[i]);
        cr_assert(eq(ptr, (void *)p, NULL));
    }
}

/* WEFT_MAX_WORKERS workers, unpinned and pinned (their steal order takes
 * memory linear in the count): created, used and destroyed in bounded
 * memory, or refused with EAGAIN/ENOMEM where the machine has not that many
 * threads to give. On the 2-vCPU development VM: about 70 MiB and 1.5 s
 * (ASan: 550 MiB, 5 s). The bound fails steal lists quadratic in the count
 * (two 4096 x 4095 arrays of unsigned: 128 MiB). The time is logged, not
 * checked: on a loaded machine starting 4096 threads can take a minute (the
 * test's timeout bounds it). */
#ifdef WT_ASAN
#define MAX_WORKERS_RSS_KIB (1536l * 1024)
#else
#define MAX_WORKERS_RSS_KIB (128l * 1024)
#endif
static void max_workers_round_trip(weft_pin pin)
{
    weft_pool_options o;
    weft_pool_options_init(&o);
    o.workers = WEFT_MAX_WORKERS;
    o.pin = pin;
    weft_pool *p = NULL;
    int64_t t0 = wt_now_ns();
    int rc = weft_pool_create(&p, &o);
    cr_assert(rc == WEFT_OK || rc == WEFT_EAGAIN || rc == WEFT_ENOMEM, "create: %d", rc);
    if (rc == WEFT_OK) {
        cr_assert(eq(u32, weft_pool_size(p), WEFT_MAX_WORKERS));
        check_pool_works(p);
        cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    }
    double s = (double)(wt_now_ns() - t0) / 1e9;
    long kib = peak_rss_kib();
    cr_log_info("%u workers (pin %d): %s, %.2f s, peak RSS %ld KiB", WEFT_MAX_WORKERS, (int)pin,
                weft_strerror(rc), s, kib);
    cr_assert(lt(long, kib, MAX_WORKERS_RSS_KIB));
}

Test(pool, max_workers_unpinned_start_and_stop_in_bounded_time_and_memory, .timeout = 120)
{
    max_workers_round_trip(WEFT_PIN_NONE);
}

Test(pool, max_workers_pinned_start_and_stop_in_bounded_time_and_memory, .timeout = 120)
{
    max_workers_round_trip(WEFT_PIN_COMPACT);
}

Test(pool, create_accepts_an_older_options_struct_without_reserved)
{
    /* An older caller's struct ends before reserved: reserved reads as zero. */
    weft_pool_options o;
    weft_pool_options_init(&o);
    o.workers = 1;
    o.struct_size = offsetof(weft_pool_options, reserved);
    o.reserved[0] = 99; /* beyond struct_size: must be ignored */
    weft_pool *p = NULL;
    cr_assert(eq(int, weft_pool_create(&p, &o), WEFT_OK));
    cr_assert(eq(u32, weft_pool_size(p), 1));
    check_pool_works(p);
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
}

Test(pool, null_pool_is_rejected_everywhere)
{
    struct rec r = {0};
    weft_future *f = (weft_future *)&r;
    cr_assert(eq(int, weft_submit(NULL, rec_task, &r, rec_dtor, &f), WEFT_EINVAL));
    cr_assert(eq(int, atomic_load(&r.dtor), 1)); /* arg_dtor also when submit fails */
    cr_assert(eq(ptr, (void *)f, (void *)&r));
    cr_assert(eq(int, weft_submit(NULL, rec_task, &r, NULL, NULL), WEFT_EINVAL));
    cr_assert(eq(int, weft_pool_shutdown(NULL, 0), WEFT_EINVAL));
    cr_assert(eq(int, weft_pool_shutdown(NULL, WEFT_SHUTDOWN_WAIT), WEFT_EINVAL));
    cr_assert(eq(int, weft_pool_destroy(NULL), WEFT_EINVAL));
    cr_assert(eq(u32, weft_pool_size(NULL), 0));
    weft_worker_stats st[2];
    cr_assert(eq(int, weft_pool_stats(NULL, st, 2), WEFT_EINVAL));
    cr_assert(eq(int, weft_pool_stats(NULL, NULL, 0), WEFT_EINVAL));
    cr_assert(eq(int, atomic_load(&r.ran), 0));
}

Test(pool, submit_rejects_null_function)
{
    weft_pool *p = make_pool(1);
    struct rec r = {0};
    weft_future *f = (weft_future *)&r;
    cr_assert(eq(int, weft_submit(p, NULL, &r, rec_dtor, &f), WEFT_EINVAL));
    cr_assert(eq(int, atomic_load(&r.dtor), 1));
    cr_assert(eq(ptr, (void *)f, (void *)&r));
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
}

Test(pool, shutdown_rejects_unknown_flags_and_changes_nothing)
{
    weft_pool *p = make_pool(2);
    cr_assert(eq(int, weft_pool_shutdown(p, 4), WEFT_EINVAL));
    cr_assert(eq(int, weft_pool_shutdown(p, 0x80000000u), WEFT_EINVAL));
    cr_assert(eq(int, weft_pool_shutdown(p, WEFT_SHUTDOWN_WAIT | 8), WEFT_EINVAL));
    check_pool_works(p); /* not shut down */
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
}

Test(pool, stats_rejects_null_out_with_nonzero_n)
{
    weft_pool *p = make_pool(2);
    cr_assert(eq(int, weft_pool_stats(p, NULL, 1), WEFT_EINVAL));
    cr_assert(eq(int, weft_pool_stats(p, NULL, 0), 2));
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
}

/* ---- shutdown ------------------------------------------------------------------- */

Test(pool, submit_after_shutdown_fails_and_frees_the_argument_once)
{
    weft_pool *p = make_pool(2);
    cr_assert(eq(int, weft_pool_shutdown(p, 0), WEFT_OK));
    struct rec r = {0};
    weft_future *f = (weft_future *)&r;
    cr_assert(eq(int, weft_submit(p, rec_task, &r, rec_dtor, &f), WEFT_ESHUTDOWN));
    cr_assert(eq(ptr, (void *)f, (void *)&r));
    cr_assert(eq(int, atomic_load(&r.dtor), 1));
    cr_assert(eq(int, weft_submit(p, rec_task, &r, rec_dtor, NULL), WEFT_ESHUTDOWN));
    cr_assert(eq(int, atomic_load(&r.dtor), 2));
    cr_assert(eq(int, weft_pool_shutdown(p, WEFT_SHUTDOWN_WAIT), WEFT_OK));
    cr_assert(eq(int, weft_submit(p, rec_task, &r, rec_dtor, &f), WEFT_ESHUTDOWN));
    cr_assert(eq(int, atomic_load(&r.dtor), 3));
    cr_assert(eq(int, atomic_load(&r.ran), 0));
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
}

Test(pool, shutdown_is_idempotent)
{
    weft_pool *p = make_pool(2);
    cr_assert(eq(int, weft_pool_shutdown(p, 0), WEFT_OK));
    cr_assert(eq(int, weft_pool_shutdown(p, 0), WEFT_OK));
    cr_assert(eq(int, weft_pool_shutdown(p, WEFT_SHUTDOWN_WAIT), WEFT_OK));
    cr_assert(eq(int, weft_pool_shutdown(p, WEFT_SHUTDOWN_WAIT), WEFT_OK));
    cr_assert(eq(int, weft_pool_shutdown(p, WEFT_SHUTDOWN_CANCEL), WEFT_OK));
    cr_assert(eq(int, weft_pool_shutdown(p, WEFT_SHUTDOWN_CANCEL | WEFT_SHUTDOWN_WAIT), WEFT_OK));
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
}

/* Blocking pool calls from a task of the same pool. */
struct inner {
    weft_pool *pool;
    atomic_int shutdown_wait_rc;
    atomic_int shutdown_cancel_wait_rc;
    atomic_int destroy_rc;
    atomic_int shutdown_rc;
    atomic_int submit_after_rc;
    struct rec after;
};

static int deadlock_task(weft_ctx *ctx, void *arg, void **result)
{
    struct inner *in = arg;
    atomic_store(&in->shutdown_wait_rc, weft_pool_shutdown(weft_ctx_pool(ctx), WEFT_SHUTDOWN_WAIT));
    atomic_store(&in->shutdown_cancel_wait_rc,
                 weft_pool_shutdown(in->pool, WEFT_SHUTDOWN_WAIT | WEFT_SHUTDOWN_CANCEL));
    atomic_store(&in->destroy_rc, weft_pool_destroy(in->pool));
    return 0;
}

Test(pool, shutdown_wait_and_destroy_from_a_task_give_edeadlk)
{
    for (unsigned n = 1; n <= 2; n++) {
        weft_pool *p = make_pool(n);
        struct inner in = {.pool = p};
        weft_future *f;
        cr_assert(eq(int, weft_submit(p, deadlock_task, &in, NULL, &f), WEFT_OK));
        cr_assert(eq(int, weft_future_result(f, DEADLINE_NS, NULL), WEFT_OK));
        weft_future_release(f);
        cr_assert(eq(int, atomic_load(&in.shutdown_wait_rc), WEFT_EDEADLK));
        cr_assert(eq(int, atomic_load(&in.shutdown_cancel_wait_rc), WEFT_EDEADLK));
        cr_assert(eq(int, atomic_load(&in.destroy_rc), WEFT_EDEADLK));
        /* Nothing was shut down or destroyed. */
        check_pool_works(p);
        cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    }
}

static int shutdown_task(weft_ctx *ctx, void *arg, void **result)
{
    struct inner *in = arg;
    atomic_store(&in->shutdown_rc, weft_pool_shutdown(in->pool, 0));
    atomic_store(&in->submit_after_rc, weft_submit(in->pool, rec_task, &in->after, rec_dtor, NULL));
    return 0;
}

Test(pool, shutdown_without_wait_from_a_task_works)
{
    weft_pool *p = make_pool(2);
    struct gate g = {0};
    weft_future *gf;
    cr_assert(eq(int, weft_submit(p, gate_task, &g, NULL, &gf), WEFT_OK));
    enum { N = 50 };
    struct rec rs[N];
    memset(rs, 0, sizeof(rs));
    for (int i = 0; i < N; i++)
        cr_assert(eq(int, weft_submit(p, rec_task, &rs[i], rec_dtor, NULL), WEFT_OK));
    struct inner in = {.pool = p};
    weft_future *f;
    cr_assert(eq(int, weft_submit(p, shutdown_task, &in, NULL, &f), WEFT_OK));
    cr_assert(eq(int, weft_future_wait(f, DEADLINE_NS), WEFT_OK));
    cr_assert(eq(int, atomic_load(&in.shutdown_rc), WEFT_OK));
    cr_assert(eq(int, atomic_load(&in.submit_after_rc), WEFT_ESHUTDOWN));
    cr_assert(eq(int, atomic_load(&in.after.dtor), 1));
    cr_assert(eq(int, atomic_load(&in.after.ran), 0));
    struct rec late = {0};
    cr_assert(eq(int, weft_submit(p, rec_task, &late, rec_dtor, NULL), WEFT_ESHUTDOWN));
    cr_assert(eq(int, atomic_load(&late.dtor), 1));
    atomic_store(&g.open, 1);
    cr_assert(eq(int, weft_pool_shutdown(p, WEFT_SHUTDOWN_WAIT), WEFT_OK));
    /* Everything accepted before the shutdown ran. */
    for (int i = 0; i < N; i++) {
        cr_assert(eq(int, atomic_load(&rs[i].ran), 1), "task %d", i);
        cr_assert(eq(int, atomic_load(&rs[i].dtor), 1), "task %d", i);
    }
    cr_assert(weft_future_done(gf));
    weft_future_release(gf);
    weft_future_release(f);
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
}

/* Opens a gate after a delay, from another thread. */
struct opener {
    struct gate *g;
    long delay_us;
    weft_future *const *watch; /* if set: open once any of them is cancelled */
    size_t nwatch;
};

static void *opener_main(void *arg)
{
    struct opener *o = arg;
    if (o->watch) {
        int64_t end = wt_now_ns() + 2ll * 1000000000;
        for (;;) {
            bool any = false;
            for (size_t i = 0; i < o->nwatch && !any; i++)
                any = weft_future_cancelled(o->watch[i]);
            if (any || wt_now_ns() >= end)
                break;
            wt_sleep_us(100);
        }
    }
    wt_sleep_us(o->delay_us);
    atomic_store(&o->g->open, 1);
    return NULL;
}

Test(pool, shutdown_wait_runs_every_queued_task)
{
    for (unsigned n = 1; n <= 2; n++) {
        weft_pool *p = make_pool(n);
        struct gate g = {0};
        for (unsigned i = 0; i < n; i++)
            cr_assert(eq(int, weft_submit(p, gate_task, &g, NULL, NULL), WEFT_OK));
        cr_assert(eq(int, await_at_least(&g.started, (int)n), (int)n));
        enum { N = 600 };
        static struct rec rs[N];
        static weft_future *fs[N];
        memset(rs, 0, sizeof(rs));
        for (int i = 0; i < N; i++)
            cr_assert(eq(int, weft_submit(p, rec_task, &rs[i], rec_dtor, i % 2 ? &fs[i] : NULL),
                          WEFT_OK));
        pthread_t th;
        struct opener o = {.g = &g, .delay_us = 50000};
        cr_assert(eq(int, pthread_create(&th, NULL, opener_main, &o), 0));
        cr_assert(eq(int, weft_pool_shutdown(p, WEFT_SHUTDOWN_WAIT), WEFT_OK));
        /* Right after the wait: all ran and all arguments were freed. */
        int ran = 0, dtor = 0;
        for (int i = 0; i < N; i++) {
            ran += atomic_load(&rs[i].ran);
            dtor += atomic_load(&rs[i].dtor);
        }
        cr_assert(eq(int, ran, N));
        cr_assert(eq(int, dtor, N));
        for (int i = 1; i < N; i += 2) {
            cr_assert(eq(int, weft_future_state(fs[i]), WEFT_FINISHED));
            weft_future_release(fs[i]);
        }
        pthread_join(th, NULL);
        cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    }
}

Test(pool, destroy_without_shutdown_runs_queued_tasks)
{
    weft_pool *p = make_pool(2);
    enum { N = 300 };
    static struct rec rs[N];
    memset(rs, 0, sizeof(rs));
    for (int i = 0; i < N; i++)
        cr_assert(eq(int, weft_submit(p, rec_task, &rs[i], rec_dtor, NULL), WEFT_OK));
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    for (int i = 0; i < N; i++) {
        cr_assert(eq(int, atomic_load(&rs[i].ran), 1));
        cr_assert(eq(int, atomic_load(&rs[i].dtor), 1));
    }
}

Test(pool, shutdown_cancel_wait_cancels_tasks_that_have_not_started)
{
    for (unsigned n = 1; n <= 2; n++) {
        weft_pool *p = make_pool(n);
        struct gate g = {0};
        weft_future *gates[2];
        for (unsigned i = 0; i < n; i++)
            cr_assert(eq(int, weft_submit(p, gate_task, &g, NULL, &gates[i]), WEFT_OK));
        cr_assert(eq(int, await_at_least(&g.started, (int)n), (int)n));
        enum { N = 400 };
        static struct rec rs[N];
        static weft_future *fs[N];
        memset(rs, 0, sizeof(rs));
        for (int i = 0; i < N; i++) {
            cr_assert(eq(int, weft_submit(p, rec_task, &rs[i], rec_dtor, &fs[i]), WEFT_OK));
            cr_assert(eq(int, weft_future_add_done_callback(fs[i], rec_cb, &rs[i]), WEFT_OK));
        }
        pthread_t th;
        struct opener o = {.g = &g, .delay_us = 1000, .watch = fs, .nwatch = N};
        cr_assert(eq(int, pthread_create(&th, NULL, opener_main, &o), 0));
        cr_assert(eq(int, weft_pool_shutdown(p, WEFT_SHUTDOWN_CANCEL | WEFT_SHUTDOWN_WAIT),
                      WEFT_OK));
        int cancelled = 0;
        for (int i = 0; i < N; i++) {
            int st = weft_future_state(fs[i]);
            int ran = atomic_load(&rs[i].ran);
            cr_assert(st == WEFT_FINISHED || st == WEFT_CANCELLED, "task %d state %d", i, st);
            cr_assert(eq(int, ran, st == WEFT_FINISHED ? 1 : 0), "task %d state %d", i, st);
            cr_assert(eq(int, atomic_load(&rs[i].dtor), 1), "task %d", i);
            cr_assert(eq(int, atomic_load(&rs[i].cb), 1), "task %d", i);
            if (st == WEFT_CANCELLED) {
                cancelled++;
                cr_assert(eq(int, weft_future_result(fs[i], 0, NULL), WEFT_ECANCELED));
            }
        }
        /* The gates held every worker until a cancellation was visible, so
         * nothing queued can have started. */
        cr_assert(eq(int, cancelled, N), "n=%u: %d of %d cancelled", n, cancelled, N);
        for (unsigned i = 0; i < n; i++) {
            cr_assert(eq(int, weft_future_state(gates[i]), WEFT_FINISHED));
            weft_future_release(gates[i]);
        }
        for (int i = 0; i < N; i++)
            weft_future_release(fs[i]);
        pthread_join(th, NULL);
        cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    }
}

/* A done-callback that itself calls weft_pool_shutdown(CANCEL) (no WAIT, so
 * non-blocking by contract: e.g. "cancel everything on the first failure")
 * while the pool is cancelling its injection queue. cancel_injected runs the
 * cancelled futures' callbacks while it holds inj_lock, so the nested
 * cancel_injected spins on the lock forever. Run in a helper thread so the
 * test fails with a message instead of hanging. */
struct nested_shutdown {
    weft_pool *pool;
    atomic_int cb_entered;
    atomic_int cb_rc;
    atomic_int done;
};

static int shutdown_cancel_cb(weft_future *f, void *ud)
{
    struct nested_shutdown *ns = ud;
    atomic_fetch_add(&ns->cb_entered, 1);
    atomic_store(&ns->cb_rc, weft_pool_shutdown(ns->pool, WEFT_SHUTDOWN_CANCEL));
    return 0;
}

static void *shutdown_cancel_main(void *arg)
{
    struct nested_shutdown *ns = arg;
    weft_pool_shutdown(ns->pool, WEFT_SHUTDOWN_CANCEL);
    atomic_store(&ns->done, 1);
    return NULL;
}

Test(pool, a_callback_may_call_shutdown_cancel_while_the_pool_cancels)
{
    weft_pool *p = make_pool(1);
    struct gate g = {0};
    weft_future *gf;
    cr_assert(eq(int, weft_submit(p, gate_task, &g, NULL, &gf), WEFT_OK));
    cr_assert(eq(int, await_at_least(&g.started, 1), 1));
    struct nested_shutdown ns = {.pool = p, .cb_rc = 1};
    struct rec r = {0};
    weft_future *f;
    cr_assert(eq(int, weft_submit(p, rec_task, &r, rec_dtor, &f), WEFT_OK));
    cr_assert(eq(int, weft_future_add_done_callback(f, shutdown_cancel_cb, &ns), WEFT_OK));
    pthread_t th;
    cr_assert(eq(int, pthread_create(&th, NULL, shutdown_cancel_main, &ns), 0));
    int done = await_at_least(&ns.done, 1);
    atomic_store(&g.open, 1);
    cr_assert(eq(int, done, 1),
              "shutdown(CANCEL) did not return within 10 s (callback entered: %d): "
              "cancelling queued tasks runs callbacks while holding the injection lock and the "
              "callback's own shutdown(CANCEL) spins on it",
              atomic_load(&ns.cb_entered));
    pthread_join(th, NULL);
    cr_assert(eq(int, atomic_load(&ns.cb_entered), 1));
    cr_assert(eq(int, atomic_load(&ns.cb_rc), WEFT_OK));
    cr_assert(eq(int, weft_future_state(f), WEFT_CANCELLED));
    weft_future_release(f);
    weft_future_release(gf);
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    cr_assert(eq(int, atomic_load(&r.dtor), 1));
    cr_assert(eq(int, atomic_load(&r.ran), 0));
}

Test(pool, futures_stay_valid_after_destroy)
{
    weft_pool *p = make_pool(2);
    struct rec r = {0};
    weft_future *f;
    cr_assert(eq(int, weft_submit(p, rec_task, &r, rec_dtor, &f), WEFT_OK));
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    void *v = NULL;
    cr_assert(eq(int, weft_future_state(f), WEFT_FINISHED));
    cr_assert(eq(int, weft_future_result(f, 0, &v), WEFT_OK));
    cr_assert(eq(ptr, v, (void *)&r));
    weft_future_release(f);
}

/* ---- statistics ------------------------------------------------------------------ */

static uint64_t sum_tasks(weft_pool *p, unsigned n, weft_worker_stats *st)
{
    cr_assert(eq(int, weft_pool_stats(p, st, n), (int)n));
    uint64_t s = 0;
    for (unsigned i = 0; i < n; i++)
        s += st[i].tasks_run;
    return s;
}

/* Fork-heavy load: a binary tree of nested submits, each waiting on both. */
static int tree_task(weft_ctx *ctx, void *arg, void **result)
{
    uintptr_t depth = (uintptr_t)arg;
    if (depth == 0) {
        *result = (void *)(uintptr_t)1;
        return 0;
    }
    weft_future *a, *b;
    weft_pool *p = weft_ctx_pool(ctx);
    if (weft_submit(p, tree_task, (void *)(depth - 1), NULL, &a) != WEFT_OK)
        return 1;
    if (weft_submit(p, tree_task, (void *)(depth - 1), NULL, &b) != WEFT_OK) {
        weft_future_release(a);
        return 1;
    }
    void *va = NULL, *vb = NULL;
    int ra = weft_future_result(a, WEFT_FOREVER, &va);
    int rb = weft_future_result(b, WEFT_FOREVER, &vb);
    weft_future_release(a);
    weft_future_release(b);
    if (ra != 0 || rb != 0)
        return 1;
    *result = (void *)((uintptr_t)va + (uintptr_t)vb);
    return 0;
}

Test(pool, stats_count_tasks_run)
{
    weft_pool *p = make_pool(2);
    weft_worker_stats st[3];
    memset(st, 0xff, sizeof(st));
    cr_assert(eq(u64, sum_tasks(p, 2, st), 0));
    cr_assert(eq(u64, st[2].tasks_run, UINT64_MAX)); /* only n entries are written */

    enum { N = 500 };
    for (int i = 0; i < N; i++)
        cr_assert(eq(int, weft_submit(p, wt_value_task, NULL, NULL, NULL), WEFT_OK));
    /* 2^13 leaves: 2^14 - 1 tasks in the tree. */
    weft_future *f;
    cr_assert(eq(int, weft_submit(p, tree_task, (void *)(uintptr_t)13, NULL, &f), WEFT_OK));
    void *v = NULL;
    cr_assert(eq(int, weft_future_result(f, 20ll * 1000000000, &v), WEFT_OK));
    cr_assert(eq(u64, (uint64_t)(uintptr_t)v, 1u << 13));
    weft_future_release(f);
    uint64_t want = N + (1u << 14) - 1;
    /* Counters are a recent snapshot: a task's count may land just after its
     * future completed, so poll briefly. */
    int64_t end = wt_now_ns() + DEADLINE_NS;
    uint64_t got;
    while ((got = sum_tasks(p, 2, st)) < want && wt_now_ns() < end)
        wt_sleep_us(1000);
    cr_assert(got >= want, "tasks_run sum %" PRIu64 " < %" PRIu64, got, want);
    cr_log_info("stats: w0 run=%" PRIu64 " steals=%" PRIu64 " failed=%" PRIu64 " parks=%" PRIu64
                "; w1 run=%" PRIu64 " steals=%" PRIu64 " failed=%" PRIu64 " parks=%" PRIu64,
                st[0].tasks_run, st[0].steals, st[0].failed_steals, st[0].parks,
                st[1].tasks_run, st[1].steals, st[1].failed_steals, st[1].parks);
    /* A smaller out array: returns the worker count, writes one entry. */
    memset(st, 0xff, sizeof(st));
    cr_assert(eq(int, weft_pool_stats(p, st, 1), 2));
    cr_assert(st[0].tasks_run != UINT64_MAX);
    cr_assert(eq(u64, st[1].tasks_run, UINT64_MAX));
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
}

/* ---- weft_strerror ------------------------------------------------------------------ */

Test(pool, strerror_names_every_code_distinctly)
{
    const int codes[] = {WEFT_OK,       WEFT_EINVAL,   WEFT_ENOMEM,  WEFT_ETIMEDOUT,
                         WEFT_ECANCELED, WEFT_ESHUTDOWN, WEFT_EDEADLK, WEFT_EALREADY,
                         WEFT_EBROKEN,  WEFT_EPERM,    WEFT_EOF,     WEFT_EAGAIN};
    const size_t n = sizeof(codes) / sizeof(codes[0]);
    for (size_t i = 0; i < n; i++) {
        const char *a = weft_strerror(codes[i]);
        cr_assert(a != NULL && a[0] != '\0', "code %d", codes[i]);
        for (size_t j = 0; j < i; j++)
            cr_assert(strcmp(a, weft_strerror(codes[j])) != 0, "codes %d and %d share \"%s\"",
                      codes[i], codes[j], a);
    }
    cr_assert(weft_strerror(-123456) != NULL);
    cr_assert(weft_strerror(17) != NULL);
    cr_assert(weft_strerror(INT32_MIN) != NULL);
}

/* ---- the placement nudge stays inside the affinity a start hook set ---- */

static int pin_to_cpu0(unsigned worker, void *ud)
{
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(0, &s);
    return pthread_setaffinity_np(pthread_self(), sizeof(s), &s);
}

static atomic_int escaped;

static int check_affinity_task(weft_ctx *ctx, void *arg, void **result)
{
    cpu_set_t s;
    pthread_getaffinity_np(pthread_self(), sizeof(s), &s);
    if (CPU_COUNT(&s) != 1 || !CPU_ISSET(0, &s))
        atomic_fetch_add(&escaped, 1);
    for (volatile int i = 0; i < 200000; i++)
        ;
    return 0;
}

Test(pool, workers_keep_the_affinity_their_start_hook_set)
{
    weft_pool_options o;
    weft_pool_options_init(&o);
    o.workers = 2;
    o.on_worker_start = pin_to_cpu0;
    weft_pool *p;
    cr_assert(eq(int, weft_pool_create(&p, &o), WEFT_OK));
    atomic_store(&escaped, 0);
    for (int round = 0; round < 20; round++) {
        weft_future *f[8];
        for (int i = 0; i < 8; i++)
            cr_assert(eq(int, weft_submit(p, check_affinity_task, NULL, NULL, &f[i]), WEFT_OK));
        cr_assert(eq(int, weft_wait(f, 8, 10000000000ll, WEFT_ALL_COMPLETED, NULL), WEFT_OK));
        for (int i = 0; i < 8; i++)
            weft_future_release(f[i]);
        usleep(2000); /* let the workers park, so they are woken again */
    }
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    cr_assert(eq(int, atomic_load(&escaped), 0));
}

/* ---- shutdown(CANCEL) with blocking parallel jobs queued among futures ---- */

static atomic_int mixed_gate;

static int mixed_blocker(weft_ctx *ctx, void *arg, void **result)
{
    int64_t end = wt_now_ns() + 10000000000ll;
    while (!atomic_load(&mixed_gate) && wt_now_ns() < end)
        wt_sleep_us(100);
    return 0;
}

static int mixed_body(weft_ctx *ctx, size_t lo, size_t hi, void *ud)
{
    atomic_fetch_add((atomic_int *)ud, (int)(hi - lo));
    return 0;
}

struct mixed_loop {
    weft_pool *pool;
    atomic_int covered;
    int rc;
};

static void *mixed_loop_thread(void *arg)
{
    struct mixed_loop *m = arg;
    m->rc = weft_parallel_for(m->pool, mixed_body, &m->covered, 0, 100, 10);
    return NULL;
}

/* The injection queue holds futures, then a blocking parallel_for's root
 * job, then more futures, behind a blocked worker. shutdown(CANCEL) cancels
 * the futures and must queue the job again intact: the loop still runs in
 * full and every future is cancelled exactly once. */
Test(pool, shutdown_cancel_keeps_queued_parallel_jobs_intact)
{
    weft_pool *p = make_pool(1);
    atomic_store(&mixed_gate, 0);
    weft_future *blocker, *before[4], *after[4];
    cr_assert(eq(int, weft_submit(p, mixed_blocker, NULL, NULL, &blocker), WEFT_OK));
    usleep(20000); /* the only worker is inside the blocker */
    for (int i = 0; i < 4; i++)
        cr_assert(eq(int, weft_submit(p, mixed_blocker, NULL, NULL, &before[i]), WEFT_OK));
    struct mixed_loop m = {.pool = p, .covered = 0, .rc = -1};
    pthread_t th;
    cr_assert(eq(int, pthread_create(&th, NULL, mixed_loop_thread, &m), 0));
    usleep(20000); /* its root job is queued */
    for (int i = 0; i < 4; i++)
        cr_assert(eq(int, weft_submit(p, mixed_blocker, NULL, NULL, &after[i]), WEFT_OK));
    cr_assert(eq(int, weft_pool_shutdown(p, WEFT_SHUTDOWN_CANCEL), WEFT_OK));
    for (int i = 0; i < 4; i++) {
        cr_assert(weft_future_cancelled(before[i]));
        cr_assert(weft_future_cancelled(after[i]));
    }
    atomic_store(&mixed_gate, 1);
    pthread_join(th, NULL);
    cr_assert(eq(int, m.rc, WEFT_OK));
    cr_assert(eq(int, atomic_load(&m.covered), 100));
    cr_assert(eq(int, weft_pool_destroy(p), WEFT_OK));
    weft_future_release(blocker);
    for (int i = 0; i < 4; i++) {
        weft_future_release(before[i]);
        weft_future_release(after[i]);
    }
}

/* ---- defaults from the environment (WEFT_WORKERS, WEFT_PIN) ----------------
 * The variables are read once per process, at the first
 * weft_pool_options_init: every test runs in a process of its own, so each
 * sets them before its first call. */

Test(pool, weft_workers_and_weft_pin_set_the_defaults)
{
    cr_assert_eq(setenv("WEFT_WORKERS", "3", 1), 0);
    cr_assert_eq(setenv("WEFT_PIN", "Compact", 1), 0);
    weft_pool_options o;
    weft_pool_options_init(&o);
    cr_assert_eq(o.workers, 3u);
    cr_assert_eq(o.pin, WEFT_PIN_COMPACT);
    /* A pool created without options takes them too. */
    weft_pool *p;
    cr_assert_eq(weft_pool_create(&p, NULL), WEFT_OK);
    cr_assert_eq(weft_pool_size(p), 3u);
    cr_assert_eq(weft_pool_destroy(p), WEFT_OK);
    /* Explicit options win. */
    o.workers = 2;
    o.pin = WEFT_PIN_NONE;
    cr_assert_eq(weft_pool_create(&p, &o), WEFT_OK);
    cr_assert_eq(weft_pool_size(p), 2u);
    cr_assert_eq(weft_pool_destroy(p), WEFT_OK);
}

/* In a child process (the variables are read once per process): the
 * defaults weft_pool_options_init returns with WEFT_WORKERS=workers and
 * WEFT_PIN=pin. Returns 0 if they are (want_workers, want_pin). */
static int defaults_in_child(const char *workers, const char *pin, unsigned want_workers,
                             weft_pin want_pin)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        if (setenv("WEFT_WORKERS", workers, 1) != 0 || setenv("WEFT_PIN", pin, 1) != 0)
            _exit(2);
        weft_pool_options o;
        weft_pool_options_init(&o);
        _exit(o.workers == want_workers && o.pin == want_pin ? 0 : 1);
    }
    int status = -1;
    if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

Test(pool, malformed_environment_values_are_ignored)
{
    const char *bad_workers[] = {"abc", "0", "-2", "3x", " ", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad_workers / sizeof bad_workers[0]; i++)
        cr_assert_eq(defaults_in_child(bad_workers[i], "none", 0, WEFT_PIN_NONE), 0,
                     "WEFT_WORKERS=\"%s\" must leave the default", bad_workers[i]);
    const char *bad_pins[] = {"everywhere", "1", "compactly"};
    for (size_t i = 0; i < sizeof bad_pins / sizeof bad_pins[0]; i++)
        cr_assert_eq(defaults_in_child("2", bad_pins[i], 2, WEFT_PIN_NONE), 0,
                     "WEFT_PIN=\"%s\" must leave the default", bad_pins[i]);
    cr_assert_eq(defaults_in_child("5", "SCATTER", 5, WEFT_PIN_SCATTER), 0);
}

Test(pool, weft_workers_above_the_cap_is_ignored)
{
    char v[32];
    snprintf(v, sizeof v, "%u", WEFT_MAX_WORKERS + 1);
    cr_assert_eq(setenv("WEFT_WORKERS", v, 1), 0);
    weft_pool_options o;
    weft_pool_options_init(&o);
    cr_assert_eq(o.workers, 0u);
}
