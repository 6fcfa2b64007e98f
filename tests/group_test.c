/* Unit tests for fork/join (runtime/group.c): weft_spawn (each child's
 * result written through the caller's pointer), weft_sync, weft_sync_take
 * and weft_join, checked against serial or closed-form values on pools of
 * 1, 2 and 3 workers; groups of one task that nest or cross; error
 * propagation; the EPERM, EINVAL and ENOMEM paths; futures submitted and
 * waited on inside tasks (nested waits help instead of deadlocking); a sync
 * that must leapfrog onto the thief of its child; and a deep spawn chain.
 *
 * Tasks never call cr_assert: they run on worker threads, so they report
 * what they saw through their status, their result or a struct, and the test
 * thread asserts. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "group.h"
#include "weft.h"
#include "weft_criterion.h"
#include "weft_tasks.h"

TestSuite(group, .timeout = 60);

/* ---- helpers ----------------------------------------------------------- */

static const unsigned pool_sizes[] = {1, 2, 3};
#define NPOOLS (sizeof(pool_sizes) / sizeof(pool_sizes[0]))

/* ---- fib by spawn/sync and by join ------------------------------------- */

Test(group, fib_by_spawn_matches_serial_on_1_2_3_workers)
{
    static const unsigned ns[] = {0, 1, 2, 3, 7, 15, 20, 24};
    for (size_t k = 0; k < NPOOLS; k++) {
        weft_pool *p = wtc_pool_new(pool_sizes[k]);
        for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
            void *v = NULL;
            cr_assert_eq(wtc_run_task(p, wt_fib_spawn, (void *)(uintptr_t)ns[i], &v), WEFT_OK);
            cr_assert_eq((uint64_t)(uintptr_t)v, wt_fib(ns[i]), "fib(%u) on %u workers",
                         ns[i], pool_sizes[k]);
        }
        wtc_pool_drop(p);
    }
    cr_assert_eq(wt_fib(25), 75025u); /* the oracle itself */
}

struct fib_arg {
    unsigned n;
    uint64_t r;
};

static int fib_join(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    struct fib_arg *f = arg;
    if (f->n < 2) {
        f->r = f->n;
        return 0;
    }
    struct fib_arg a = {.n = f->n - 1}, b = {.n = f->n - 2};
    int rc = weft_join(ctx, fib_join, &a, fib_join, &b);
    if (rc != WEFT_OK)
        return rc;
    f->r = a.r + b.r;
    return 0;
}

Test(group, fib_by_join_matches_serial_on_1_2_3_workers)
{
    for (size_t k = 0; k < NPOOLS; k++) {
        weft_pool *p = wtc_pool_new(pool_sizes[k]);
        for (unsigned n = 0; n <= 25; n += 5) {
            struct fib_arg f = {.n = n};
            cr_assert_eq(wtc_run_task(p, fib_join, &f, NULL), WEFT_OK);
            cr_assert_eq(f.r, wt_fib(n), "fib(%u) on %u workers", n, pool_sizes[k]);
        }
        wtc_pool_drop(p);
    }
}

/* ---- sums over trees ---------------------------------------------------- */

struct tree_sum {
    uint64_t lo, hi; /* range [lo, hi) */
    unsigned fanout; /* children per inner node */
    uint64_t sum, sumsq, leaves;
};

static int tree_sum(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    struct tree_sum *t = arg;
    uint64_t n = t->hi - t->lo;
    t->sum = t->sumsq = t->leaves = 0;
    if (n <= 3) {
        for (uint64_t i = t->lo; i < t->hi; i++) {
            t->sum += i;
            t->sumsq += i * i;
        }
        t->leaves = 1;
        return 0;
    }
    struct tree_sum kids[8];
    void *slots[8];
    weft_group g;
    weft_group_init(&g, ctx);
    unsigned k = t->fanout;
    for (unsigned i = 0; i < k; i++) {
        kids[i] = (struct tree_sum){.lo = t->lo + n * i / k, .hi = t->lo + n * (i + 1) / k,
                                    .fanout = t->fanout};
        int rc = weft_spawn(&g, tree_sum, &kids[i], &slots[i]);
        if (rc != WEFT_OK) {
            weft_sync(&g);
            return rc;
        }
    }
    int rc = weft_sync(&g);
    for (unsigned i = 0; i < k; i++) {
        t->sum += kids[i].sum;
        t->sumsq += kids[i].sumsq;
        t->leaves += kids[i].leaves;
    }
    return rc;
}

Test(group, tree_sums_match_closed_forms)
{
    static const uint64_t ns[] = {1, 2, 10, 1000, 99991, 200000};
    static const unsigned fanouts[] = {2, 3, 8};
    for (size_t k = 0; k < NPOOLS; k++) {
        weft_pool *p = wtc_pool_new(pool_sizes[k]);
        for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
            for (size_t j = 0; j < sizeof(fanouts) / sizeof(fanouts[0]); j++) {
                uint64_t n = ns[i];
                struct tree_sum t = {.lo = 0, .hi = n, .fanout = fanouts[j]};
                cr_assert_eq(wtc_run_task(p, tree_sum, &t, NULL), WEFT_OK);
                cr_assert_eq(t.sum, n * (n - 1) / 2, "sum n=%lu fanout=%u workers=%u",
                             (unsigned long)n, fanouts[j], pool_sizes[k]);
                cr_assert_eq(t.sumsq, (n - 1) * n * (2 * n - 1) / 6, "sum of squares n=%lu",
                             (unsigned long)n);
            }
        }
        wtc_pool_drop(p);
    }
}

/* ---- nested and multiple groups ------------------------------------------ */

/* One task with groups used one after the other, properly nested, and two
 * groups open at once with their spawns interleaved, the older group synced
 * first. Children are synced across the task (weft.h): the older group's
 * sync syncs every child spawned since it was initialized, the younger
 * group's too, each exactly once; the younger group's sync then finds
 * nothing left and returns WEFT_OK. */
struct counted_fib {
    unsigned n;
    _Atomic unsigned runs; /* times the child ran */
};

static int counted_fib(weft_ctx *ctx, void *arg, void **result)
{
    struct counted_fib *c = arg;
    /* relaxed: read by the spawner after its sync. */
    atomic_fetch_add_explicit(&c->runs, 1, memory_order_relaxed);
    return wt_fib_spawn(ctx, (void *)(uintptr_t)c->n, result);
}

#define CROSSED_N(i) (16u - (i)) /* fib argument of crossed child i */

struct multi {
    uint64_t seq[5];    /* fib results of sequential groups */
    uint64_t nested[2]; /* outer child, inner child */
    /* Crossed: children 0 and 2 in the older group ga, 1 in gb. */
    struct counted_fib cf[3];
    uint64_t crossed_at_older_sync[3]; /* results right after weft_sync(&ga) */
    unsigned runs_at_older_sync[3];    /* runs right after weft_sync(&ga) */
    uint64_t crossed[3];               /* results after both syncs */
    int older_rc, younger_rc;
    int rc;
};

static int multi_groups(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    struct multi *m = arg;
    void *c[5];
    int rc = 0;

    weft_group g1;
    weft_group_init(&g1, ctx);
    for (unsigned i = 0; i < 3; i++)
        rc |= weft_spawn(&g1, wt_fib_spawn, (void *)(uintptr_t)(10 + i), &c[i]);
    rc |= weft_sync(&g1);
    weft_group g2;
    weft_group_init(&g2, ctx);
    for (unsigned i = 3; i < 5; i++)
        rc |= weft_spawn(&g2, wt_fib_spawn, (void *)(uintptr_t)(10 + i), &c[i]);
    rc |= weft_sync(&g2);
    for (unsigned i = 0; i < 5; i++)
        m->seq[i] = (uintptr_t)c[i];

    /* Nested: the inner group is opened and synced while the outer is open. */
    weft_group outer, inner;
    void *co = NULL, *ci = NULL;
    weft_group_init(&outer, ctx);
    rc |= weft_spawn(&outer, wt_fib_spawn, (void *)(uintptr_t)18, &co);
    weft_group_init(&inner, ctx);
    rc |= weft_spawn(&inner, wt_fib_spawn, (void *)(uintptr_t)17, &ci);
    rc |= weft_sync(&inner);
    rc |= weft_sync(&outer);
    m->nested[0] = (uintptr_t)co;
    m->nested[1] = (uintptr_t)ci;

    /* Crossed: ga gets a child, gb is opened, then gb and ga get one each;
     * the older group ga is synced first. */
    weft_group ga, gb;
    void *cx[3] = {NULL, NULL, NULL};
    for (unsigned i = 0; i < 3; i++) {
        m->cf[i].n = CROSSED_N(i);
        atomic_store_explicit(&m->cf[i].runs, 0, memory_order_relaxed);
    }
    weft_group_init(&ga, ctx);
    rc |= weft_spawn(&ga, counted_fib, &m->cf[0], &cx[0]);
    weft_group_init(&gb, ctx);
    rc |= weft_spawn(&gb, counted_fib, &m->cf[1], &cx[1]);
    rc |= weft_spawn(&ga, counted_fib, &m->cf[2], &cx[2]);
    m->older_rc = weft_sync(&ga);
    for (unsigned i = 0; i < 3; i++) {
        m->crossed_at_older_sync[i] = (uintptr_t)cx[i];
        m->runs_at_older_sync[i] = atomic_load_explicit(&m->cf[i].runs, memory_order_relaxed);
    }
    m->younger_rc = weft_sync(&gb);
    for (unsigned i = 0; i < 3; i++)
        m->crossed[i] = (uintptr_t)cx[i];
    m->rc = rc;
    return rc | m->older_rc | m->younger_rc;
}

Test(group, several_groups_in_one_task)
{
    for (size_t k = 0; k < NPOOLS; k++) {
        weft_pool *p = wtc_pool_new(pool_sizes[k]);
        for (int round = 0; round < 20; round++) {
            struct multi m = {0};
            cr_assert_eq(wtc_run_task(p, multi_groups, &m, NULL), WEFT_OK);
            for (unsigned i = 0; i < 5; i++)
                cr_assert_eq(m.seq[i], wt_fib(10 + i));
            cr_assert_eq(m.nested[0], wt_fib(18));
            cr_assert_eq(m.nested[1], wt_fib(17));
            cr_assert_eq(m.older_rc, WEFT_OK);
            for (unsigned i = 0; i < 3; i++) {
                cr_assert_eq(m.runs_at_older_sync[i], 1,
                             "crossed child %u: the older group's sync ran it once (%u)", i,
                             m.runs_at_older_sync[i]);
                cr_assert_eq(m.crossed_at_older_sync[i], wt_fib(CROSSED_N(i)),
                             "crossed child %u: done at the older group's sync", i);
            }
            cr_assert_eq(m.younger_rc, WEFT_OK, "the younger group had nothing left");
            for (unsigned i = 0; i < 3; i++) {
                cr_assert_eq(atomic_load(&m.cf[i].runs), 1, "crossed child %u ran once", i);
                cr_assert_eq(m.crossed[i], wt_fib(CROSSED_N(i)));
            }
        }
        wtc_pool_drop(p);
    }
}

/* A child that itself spawns and syncs, three levels down, with a sum that
 * depends on every level. */
static int nested_level(weft_ctx *ctx, void *arg, void **result)
{
    uintptr_t level = (uintptr_t)arg;
    if (level == 0) {
        *result = (void *)(uintptr_t)1;
        return 0;
    }
    weft_group g;
    void *c[4];
    weft_group_init(&g, ctx);
    for (unsigned i = 0; i < 4; i++)
        if (weft_spawn(&g, nested_level, (void *)(level - 1), &c[i]) != WEFT_OK)
            return -1000;
    int rc = weft_sync(&g);
    uintptr_t s = 1;
    for (unsigned i = 0; i < 4; i++)
        s += (uintptr_t)c[i];
    *result = (void *)s;
    return rc;
}

Test(group, nested_children_spawn_and_sync)
{
    for (size_t k = 0; k < NPOOLS; k++) {
        weft_pool *p = wtc_pool_new(pool_sizes[k]);
        for (uintptr_t levels = 0; levels <= 7; levels++) {
            void *v = NULL;
            cr_assert_eq(wtc_run_task(p, nested_level, (void *)levels, &v), WEFT_OK);
            uintptr_t want = 0, pow = 1; /* (4^(levels+1) - 1) / 3 nodes */
            for (uintptr_t l = 0; l <= levels; l++, pow *= 4)
                want += pow;
            cr_assert_eq((uintptr_t)v, want, "levels=%lu", (unsigned long)levels);
        }
        wtc_pool_drop(p);
    }
}

/* ---- many children in one group ------------------------------------------ */

struct many {
    size_t n;
    void **slots;        /* results; NULL: use a stack array (n <= MANY_STACK) */
    _Atomic uint64_t ran;
    uint64_t sum;
    size_t bad;          /* children whose result was wrong */
};
#define MANY_STACK 1000

static int many_child(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    uintptr_t i = (uintptr_t)arg;
    *result = (void *)(i * 3 + 1);
    return 0;
}

static struct many *many_cur; /* the running test's record */

static int many_counted_child(weft_ctx *ctx, void *arg, void **result)
{
    /* relaxed: a counter read by the parent after weft_sync. */
    atomic_fetch_add_explicit(&many_cur->ran, 1, memory_order_relaxed);
    return many_child(ctx, arg, result);
}

static int many_parent(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    struct many *m = arg;
    void *stack_slots[MANY_STACK];
    void **slots = m->slots ? m->slots : stack_slots;
    weft_group g;
    weft_group_init(&g, ctx);
    for (size_t i = 0; i < m->n; i++)
        if (weft_spawn(&g, many_counted_child, (void *)(uintptr_t)i, &slots[i]) != WEFT_OK) {
            weft_sync(&g);
            return -1000;
        }
    int rc = weft_sync(&g);
    for (size_t i = 0; i < m->n; i++) {
        uintptr_t r = (uintptr_t)slots[i];
        m->sum += r;
        if (r != i * 3 + 1)
            m->bad++;
    }
    return rc;
}

Test(group, a_thousand_children_then_one_sync)
{
    for (size_t k = 0; k < NPOOLS; k++) {
        weft_pool *p = wtc_pool_new(pool_sizes[k]);
        for (int round = 0; round < 10; round++) {
            struct many m = {.n = MANY_STACK};
            many_cur = &m;
            cr_assert_eq(wtc_run_task(p, many_parent, &m, NULL), WEFT_OK);
            cr_assert_eq(atomic_load(&m.ran), MANY_STACK);
            cr_assert_eq(m.bad, 0);
            cr_assert_eq(m.sum, 3ull * MANY_STACK * (MANY_STACK - 1) / 2 + MANY_STACK);
        }
        wtc_pool_drop(p);
    }
}

Test(group, fifty_thousand_children_grow_the_deque)
{
    const size_t n = 50000;
    void **slots = calloc(n, sizeof(*slots));
    cr_assert_not_null(slots);
    for (size_t k = 0; k < NPOOLS; k++) {
        weft_pool *p = wtc_pool_new(pool_sizes[k]);
        struct many m = {.n = n, .slots = slots};
        many_cur = &m;
        cr_assert_eq(wtc_run_task(p, many_parent, &m, NULL), WEFT_OK);
        cr_assert_eq(atomic_load(&m.ran), n);
        cr_assert_eq(m.bad, 0);
        cr_assert_eq(m.sum, 3ull * n * (n - 1) / 2 + n);
        wtc_pool_drop(p);
    }
    free(slots);
}

/* A worker's spawn stack holds WEFT_SPAWN_MAX unsynced children (fewer if
 * the system refused that much address space, but never fewer than a few
 * thousand): the spawn after the last one that fits fails with WEFT_ENOMEM,
 * the group's sync reports it, every child that was spawned still runs
 * once, and after the sync there is room again. One worker: no thief. */
static _Atomic uint64_t full_ran;

static int full_child(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)arg;
    (void)result;
    /* relaxed: read after the root completed. */
    atomic_fetch_add_explicit(&full_ran, 1, memory_order_relaxed);
    return 0;
}

struct full_stack {
    size_t spawned;
    int fail_rc, again_rc, sync_rc, after_rc, after_sync_rc;
};

static int full_stack_parent(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    struct full_stack *fs = arg;
    weft_group g;
    weft_group_init(&g, ctx);
    int rc;
    size_t n = 0;
    while ((rc = weft_spawn(&g, full_child, NULL, NULL)) == WEFT_OK && n <= WEFT_SPAWN_MAX)
        n++;
    fs->spawned = n;
    fs->fail_rc = rc;
    fs->again_rc = weft_spawn(&g, full_child, NULL, NULL);
    fs->sync_rc = weft_sync(&g);
    weft_group h;
    weft_group_init(&h, ctx);
    fs->after_rc = weft_spawn(&h, full_child, NULL, NULL);
    fs->after_sync_rc = weft_sync(&h);
    return 0;
}

Test(group, a_full_spawn_stack_is_enomem_and_the_spawned_children_still_run, .timeout = 120)
{
    weft_pool *p = wtc_pool_new(1);
    struct full_stack fs = {0};
    atomic_store(&full_ran, 0);
    cr_assert_eq(wtc_run_task(p, full_stack_parent, &fs, NULL), WEFT_OK);
    cr_assert_eq(fs.fail_rc, WEFT_ENOMEM, "spawn %zu gave %d", fs.spawned, fs.fail_rc);
    cr_assert_leq(fs.spawned, (size_t)WEFT_SPAWN_MAX);
    cr_assert_geq(fs.spawned, (size_t)4096);
    cr_assert_eq(fs.again_rc, WEFT_ENOMEM, "still full");
    cr_assert_eq(fs.sync_rc, WEFT_ENOMEM, "the failed spawn is reported at sync");
    cr_assert_eq(fs.after_rc, WEFT_OK, "room again after the sync");
    cr_assert_eq(fs.after_sync_rc, WEFT_OK);
    cr_assert_eq(atomic_load(&full_ran), fs.spawned + 1, "every spawned child ran once");
    wtc_pool_drop(p);
}

/* ---- errors ------------------------------------------------------------- */

struct status_case {
    const int *statuses;
    size_t n;
    unsigned spin;        /* work per child, so that some are stolen */
    _Atomic unsigned ran; /* children that ran */
};

struct status_arg {
    struct status_case *sc;
    int status;
};

static int status_child(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)result;
    struct status_arg *a = arg;
    wt_spin_work((uintptr_t)a, a->sc->spin);
    /* relaxed: read by the test thread after the whole task finished. */
    atomic_fetch_add_explicit(&a->sc->ran, 1, memory_order_relaxed);
    return a->status;
}

static int status_parent(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    struct status_case *sc = arg;
    weft_group g;
    void *slots[16];
    struct status_arg args[16];
    weft_group_init(&g, ctx);
    for (size_t i = 0; i < sc->n; i++) {
        args[i] = (struct status_arg){.sc = sc, .status = sc->statuses[i]};
        if (weft_spawn(&g, status_child, &args[i], &slots[i]) != WEFT_OK) {
            weft_sync(&g);
            return -1000;
        }
    }
    return weft_sync(&g);
}

Test(group, sync_returns_the_most_recently_spawned_failing_status)
{
    static const int s1[] = {0, 5, 0, -7, 0, 3, 0, 0};
    static const int s2[] = {9, 0, 0};
    static const int s3[] = {0, 0, 0, 0};
    static const int s4[] = {-1, -2, -3, -4, -5, -6, -7, -8, -9, -10, -11, -12};
    static const int s5[] = {WEFT_ETIMEDOUT};
    static const struct {
        const int *s;
        size_t n;
        int want;
    } cases[] = {{s1, 8, 3}, {s2, 3, 9}, {s3, 4, 0}, {s4, 12, -12}, {s5, 1, WEFT_ETIMEDOUT}};
    for (size_t k = 0; k < NPOOLS; k++) {
        weft_pool *p = wtc_pool_new(pool_sizes[k]);
        for (unsigned spin = 0; spin <= 20000; spin += 10000) {
            for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct status_case sc = {.statuses = cases[i].s, .n = cases[i].n, .spin = spin};
                int rc = wtc_run_task(p, status_parent, &sc, NULL);
                cr_assert_eq(rc, cases[i].want ? WEFT_ETASK : WEFT_OK,
                             "case %zu spin %u workers %u: got %d", i, spin, pool_sizes[k], rc);
                if (cases[i].want != 0)
                    cr_assert_eq(weft_task_status(), cases[i].want, "case %zu: the child's own",
                                 i);
                cr_assert_eq(atomic_load(&sc.ran), cases[i].n, "every child ran");
            }
        }
        wtc_pool_drop(p);
    }
}

struct join_case {
    int sa, sb;
    _Atomic int ran_a, ran_b;
};

static int join_a(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)result;
    struct join_case *jc = arg;
    wt_spin_work(1, 5000);
    atomic_store_explicit(&jc->ran_a, 1, memory_order_relaxed);
    return jc->sa;
}

static int join_b(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)result;
    struct join_case *jc = arg;
    wt_spin_work(2, 5000);
    atomic_store_explicit(&jc->ran_b, 1, memory_order_relaxed);
    return jc->sb;
}

static int join_parent(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    struct join_case *jc = arg;
    return weft_join(ctx, join_a, jc, join_b, jc);
}

Test(group, join_returns_a_status_if_nonzero_else_b)
{
    static const int cases[][3] = {{0, 0, 0}, {4, 6, 4}, {0, 6, 6}, {4, 0, 4},
                                   {-5, 0, -5}, {0, -9, -9}, {-5, 7, -5}};
    for (size_t k = 0; k < NPOOLS; k++) {
        weft_pool *p = wtc_pool_new(pool_sizes[k]);
        for (int round = 0; round < 5; round++) {
            for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct join_case jc = {.sa = cases[i][0], .sb = cases[i][1]};
                int rc = wtc_run_task(p, join_parent, &jc, NULL);
                /* join's WEFT_ETASK, returned by the task, passes the
                 * child's own status on to the future. */
                cr_assert_eq(rc, cases[i][2] == 0 ? WEFT_OK : WEFT_ETASK, "a=%d b=%d on %u workers",
                             cases[i][0], cases[i][1], pool_sizes[k]);
                if (cases[i][2] != 0)
                    cr_assert_eq(weft_task_status(), cases[i][2]);
                cr_assert(atomic_load(&jc.ran_a) && atomic_load(&jc.ran_b), "both ran");
            }
        }
        wtc_pool_drop(p);
    }
}

/* A failing leaf deep in a tree: its status reaches the root, and every
 * other leaf still ran (sync waits for all children). */
struct fail_tree {
    uint64_t lo, hi, fail_at;
    _Atomic uint64_t *leaves;
};

static int fail_tree(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    struct fail_tree *t = arg;
    if (t->hi - t->lo == 1) {
        /* relaxed: read after the root finished. */
        atomic_fetch_add_explicit(t->leaves, 1, memory_order_relaxed);
        return t->lo == t->fail_at ? -EIO : 0;
    }
    uint64_t mid = t->lo + (t->hi - t->lo) / 2;
    struct fail_tree l = *t, r = *t;
    l.hi = mid;
    r.lo = mid;
    return weft_join(ctx, fail_tree, &l, fail_tree, &r);
}

Test(group, a_deep_failure_propagates_to_the_root)
{
    for (size_t k = 0; k < NPOOLS; k++) {
        weft_pool *p = wtc_pool_new(pool_sizes[k]);
        static const uint64_t at[] = {0, 1, 4095, 4096, 8191};
        for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
            _Atomic uint64_t leaves = 0;
            struct fail_tree t = {.lo = 0, .hi = 8192, .fail_at = at[i], .leaves = &leaves};
            wtc_assert_task_failed(wtc_run_task(p, fail_tree, &t, NULL), -EIO);
            cr_assert_eq(atomic_load(&leaves), 8192);
        }
        wtc_pool_drop(p);
    }
}

/* ---- child results --------------------------------------------------------- */

/* weft_spawn's result pointer: the child's sync stores the child's result
 * there (NULL if its fn stored nothing); it may be NULL. */

static int no_result_child(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)arg;
    (void)result;
    return 0;
}

/* Stores a result (spawned with a NULL result pointer) and counts its
 * runs. */
static int null_result_child(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    *result = arg;
    atomic_fetch_add((_Atomic int *)arg, 1);
    return 0;
}

struct results {
    int objs[8];
    const void *got[8];
    const void *none;
    _Atomic int null_result_ran;
};

static int results_parent(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    struct results *r = arg;
    weft_group g;
    void *slots[9];
    for (int i = 0; i < 9; i++)
        slots[i] = r; /* stale: each child's sync overwrites it */
    weft_group_init(&g, ctx);
    for (int i = 0; i < 8; i++)
        if (weft_spawn(&g, wt_value_task, &r->objs[i], &slots[i]) != WEFT_OK)
            return -1000;
    if (weft_spawn(&g, no_result_child, r, &slots[8]) != WEFT_OK)
        return -1000;
    if (weft_spawn(&g, null_result_child, (void *)&r->null_result_ran, NULL) != WEFT_OK)
        return -1001;
    int rc = weft_sync(&g);
    for (int i = 0; i < 8; i++)
        r->got[i] = slots[i];
    r->none = slots[8];
    return rc;
}

Test(group, child_result_is_what_the_child_stored)
{
    for (size_t k = 0; k < NPOOLS; k++) {
        weft_pool *p = wtc_pool_new(pool_sizes[k]);
        struct results r = {0};
        r.none = &r; /* must become NULL */
        cr_assert_eq(wtc_run_task(p, results_parent, &r, NULL), WEFT_OK);
        for (int i = 0; i < 8; i++)
            cr_assert_eq(r.got[i], &r.objs[i]);
        cr_assert_null(r.none, "a child that stores nothing has a NULL result");
        cr_assert_eq(atomic_load(&r.null_result_ran), 1, "a child spawned with a NULL result ran");
        wtc_pool_drop(p);
    }
}

/* ---- context checks inside spawned children ------------------------------ */

struct ctx_probe {
    weft_pool *pool;
    int pool_ok, worker_ok, set_error, set_dtor;
};

static int probe_child(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    struct ctx_probe *pr = arg;
    pr->pool_ok = weft_ctx_pool(ctx) == pr->pool;
    pr->worker_ok = (int)weft_ctx_worker(ctx) == weft_worker_index();
    pr->set_error = weft_ctx_set_error(ctx, pr, NULL);
    pr->set_dtor = weft_ctx_set_result_dtor(ctx, free);
    return 0;
}

static int probe_parent(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    weft_group g;
    void *c = NULL;
    weft_group_init(&g, ctx);
    int rc = weft_spawn(&g, probe_child, arg, &c);
    int rs = weft_sync(&g);
    return rc ? rc : rs;
}

Test(group, spawned_children_see_their_pool_and_cannot_set_errors)
{
    weft_pool *p = wtc_pool_new(2);
    struct ctx_probe pr = {.pool = p};
    cr_assert_eq(wtc_run_task(p, probe_parent, &pr, NULL), WEFT_OK);
    cr_assert(pr.pool_ok);
    cr_assert(pr.worker_ok);
    cr_assert_eq(pr.set_error, WEFT_EPERM);
    cr_assert_eq(pr.set_dtor, WEFT_EPERM);
    wtc_pool_drop(p);
}

/* ---- EPERM and EINVAL ------------------------------------------------------ */

static int never_run(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)result;
    atomic_store((_Atomic int *)arg, 1);
    return 0;
}

Test(group, spawn_without_a_task_is_eperm)
{
    _Atomic int ran = 0;
    weft_group g;
    void *c = NULL;
    weft_group_init(&g, NULL);
    cr_assert_eq(weft_spawn(&g, never_run, (void *)&ran, &c), WEFT_EPERM);
    /* weft.h: with ctx NULL, every call on the group returns WEFT_EPERM. */
    cr_assert_eq(weft_sync(&g), WEFT_EPERM, "the sync says so too");
    cr_assert_eq(weft_sync(&g), WEFT_EPERM, "every time");
    void *v = &g;
    cr_assert_eq(weft_sync_take(&g, &v), WEFT_EPERM);
    cr_assert_eq(v, &g, "nothing taken");
    cr_assert_eq(atomic_load(&ran), 0);
}

static int status_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)result;
    return (int)(intptr_t)arg;
}

static int spawn_null_fn_parent(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    int *out = arg;
    weft_group g;
    void *a = NULL, *b = NULL, *c = NULL;
    weft_group_init(&g, ctx);
    out[0] = weft_spawn(&g, wt_value_task, (void *)(uintptr_t)1, &a);
    out[1] = weft_spawn(&g, NULL, NULL, &b);
    out[2] = weft_spawn(&g, wt_value_task, (void *)(uintptr_t)3, &c);
    out[3] = weft_sync(&g);
    out[4] = (int)(uintptr_t)a + (int)(uintptr_t)c;
    /* A child's own failure comes first. */
    weft_group_init(&g, ctx);
    (void)weft_spawn(&g, NULL, NULL, &a);
    (void)weft_spawn(&g, status_task, (void *)(intptr_t)-77, &b);
    out[5] = weft_sync(&g);
    out[6] = weft_task_status();
    return 0;
}

Test(group, a_failed_spawn_is_reported_at_sync_and_the_other_children_run)
{
    weft_pool *p = wtc_pool_new(2);
    int out[7] = {0};
    cr_assert_eq(wtc_run_task(p, spawn_null_fn_parent, out, NULL), WEFT_OK);
    cr_assert_eq(out[0], WEFT_OK);
    cr_assert_eq(out[1], WEFT_EINVAL);
    cr_assert_eq(out[2], WEFT_OK);
    cr_assert_eq(out[3], WEFT_EINVAL, "sync reports the failed spawn");
    cr_assert_eq(out[4], 4, "both spawned children ran");
    cr_assert_eq(out[5], WEFT_ETASK, "a failing child comes before a failed spawn");
    cr_assert_eq(out[6], -77, "with its own status");
    wtc_pool_drop(p);
}

/* A group is a plain object of its task: the inline fast paths do not look
 * at the calling thread, so using a group from another thread through them
 * is a data race (weft.h). What is checked: every call on a group
 * initialized without a task context returns WEFT_EPERM, even on a worker;
 * and the library functions, called by their parenthesised names, check
 * the thread: from another thread, or from a task of another pool,
 * weft_sync, weft_sync_take and weft_spawn on a group of this task return
 * WEFT_EPERM, take nothing, run nothing and leave the group as it was (its
 * owner's sync runs the owner's child once and has no failure to report:
 * a group's failed spawns are kept on its task's spawn stack, which no
 * other thread writes). */
struct foreign {
    weft_pool *other;
    weft_group *g;
    _Atomic int ran;      /* never_run: the foreign spawns' children */
    _Atomic int own_runs; /* the owner's child, spawned into g before them */
    weft_pool *own_pool;  /* the pool whose worker ran it */
    void *own_result;
    int null_ctx_rc, null_ctx_sync, null_ctx_sync_again, null_ctx_take;
    /* [0] a plain thread, [1] a task of another pool */
    int sync_rc[2], take_rc[2], spawn_rc[2];
    void *take_arg[2];
    int other_pool_rc, sync_rc_owner;
};

#define FOREIGN_UNTAKEN ((void *)&foreign_untaken) /* take_arg until taken */
static int foreign_untaken;

static int foreign_own_child(weft_ctx *ctx, void *arg, void **result)
{
    struct foreign *fo = arg;
    fo->own_pool = weft_ctx_pool(ctx);
    atomic_fetch_add(&fo->own_runs, 1);
    *result = fo;
    return 0;
}

/* The library functions on fo->g from the calling thread, as caller i. */
static void foreign_calls(struct foreign *fo, int i)
{
    fo->take_arg[i] = FOREIGN_UNTAKEN;
    fo->sync_rc[i] = (weft_sync)(fo->g);
    fo->take_rc[i] = (weft_sync_take)(fo->g, &fo->take_arg[i]);
    void *c = NULL;
    fo->spawn_rc[i] = (weft_spawn)(fo->g, never_run, (void *)&fo->ran, &c);
}

static void *foreign_thread(void *arg)
{
    foreign_calls(arg, 0);
    return NULL;
}

static int foreign_other_pool(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)result;
    foreign_calls(arg, 1);
    return 0;
}

static int foreign_parent(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    struct foreign *fo = arg;
    void *c = NULL;

    weft_group gnull;
    weft_group_init(&gnull, NULL); /* no task context, even on a worker */
    fo->null_ctx_rc = weft_spawn(&gnull, never_run, (void *)&fo->ran, &c);
    fo->null_ctx_sync = weft_sync(&gnull);
    fo->null_ctx_sync_again = weft_sync(&gnull);
    fo->null_ctx_take = weft_sync_take(&gnull, NULL);

    weft_group g;
    weft_group_init(&g, ctx);
    fo->g = &g;
    if (weft_spawn(&g, foreign_own_child, fo, &fo->own_result) != WEFT_OK)
        return -1002;
    pthread_t t;
    if (pthread_create(&t, NULL, foreign_thread, fo) != 0) {
        weft_sync(&g);
        return -1000;
    }
    pthread_join(t, NULL);

    /* A task on another pool runs on another worker thread. */
    weft_future *f = NULL;
    if (weft_submit(fo->other, foreign_other_pool, fo, NULL, &f) != WEFT_OK) {
        weft_sync(&g);
        return -1001;
    }
    fo->other_pool_rc = weft_future_result(f, WEFT_FOREVER, NULL);
    weft_future_release(f);
    fo->sync_rc_owner = weft_sync(&g);
    return 0;
}

Test(group, spawn_without_ctx_or_library_calls_from_another_thread_are_eperm)
{
    weft_pool *p = wtc_pool_new(2);
    weft_pool *q = wtc_pool_new(1);
    for (int round = 0; round < 10; round++) {
        struct foreign fo = {.other = q};
        cr_assert_eq(wtc_run_task(p, foreign_parent, &fo, NULL), WEFT_OK);
        cr_assert_eq(fo.null_ctx_rc, WEFT_EPERM);
        cr_assert_eq(fo.null_ctx_sync, WEFT_EPERM);
        cr_assert_eq(fo.null_ctx_sync_again, WEFT_EPERM, "every call on it");
        cr_assert_eq(fo.null_ctx_take, WEFT_EPERM);
        cr_assert_eq(fo.other_pool_rc, WEFT_OK);
        static const char *const who[] = {"another thread", "a task of another pool"};
        for (int i = 0; i < 2; i++) {
            cr_assert_eq(fo.sync_rc[i], WEFT_EPERM, "(weft_sync) from %s", who[i]);
            cr_assert_eq(fo.take_rc[i], WEFT_EPERM, "(weft_sync_take) from %s", who[i]);
            cr_assert_eq(fo.take_arg[i], FOREIGN_UNTAKEN, "(weft_sync_take) from %s took %p",
                         who[i], fo.take_arg[i]);
            cr_assert_eq(fo.spawn_rc[i], WEFT_EPERM, "(weft_spawn) from %s", who[i]);
        }
        /* Not on the other pool's worker (a pthread_t could be reused by a
         * spare started after the plain thread ended: the pool is the
         * identity that holds). */
        cr_assert_eq(fo.own_pool, p, "the owner's child ran on the owner's pool");
        cr_assert_eq(fo.sync_rc_owner, WEFT_OK, "the foreign calls left g as it was");
        cr_assert_eq(atomic_load(&fo.ran), 0, "nothing was spawned");
        cr_assert_eq(atomic_load(&fo.own_runs), 1, "the owner's child ran once");
        cr_assert_eq(fo.own_result, &fo);
    }
    wtc_pool_drop(q);
    wtc_pool_drop(p);
}

struct nulls {
    int spawn_g, spawn_null_result, spawn_fn, sync_null, join_a, join_b, join_both, sync_g;
    _Atomic int ran;
    _Atomic int null_result_ran; /* a NULL result is no error: that child runs */
};

static int nulls_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    struct nulls *nu = arg;
    weft_group g;
    void *c = NULL;
    weft_group_init(&g, ctx);
    weft_group_init(NULL, ctx); /* ignored */
    nu->spawn_g = weft_spawn(NULL, never_run, (void *)&nu->ran, &c);
    nu->spawn_null_result = weft_spawn(&g, null_result_child, (void *)&nu->null_result_ran, NULL);
    nu->spawn_fn = weft_spawn(&g, NULL, NULL, &c);
    nu->sync_null = weft_sync(NULL);
    nu->join_a = weft_join(ctx, NULL, NULL, never_run, (void *)&nu->ran);
    nu->join_b = weft_join(ctx, never_run, (void *)&nu->ran, NULL, NULL);
    nu->join_both = weft_join(ctx, NULL, NULL, NULL, NULL);
    nu->sync_g = weft_sync(&g);
    return 0;
}

Test(group, null_arguments_are_einval)
{
    _Atomic int ran = 0;
    weft_group g;
    void *c = NULL;
    weft_group_init(&g, NULL);
    cr_assert_eq(weft_spawn(NULL, never_run, (void *)&ran, &c), WEFT_EINVAL);
    cr_assert_eq(weft_spawn(&g, never_run, (void *)&ran, NULL), WEFT_EPERM,
                 "a NULL result is no EINVAL (no task here)");
    /* g has no task: every call on it is WEFT_EPERM (weft_group_init);
     * nulls_task checks fn NULL on a group with one. */
    cr_assert_eq(weft_spawn(&g, NULL, NULL, &c), WEFT_EPERM);
    cr_assert_eq(weft_sync(NULL), WEFT_EINVAL);
    cr_assert_eq(weft_join(NULL, never_run, (void *)&ran, never_run, (void *)&ran), WEFT_EINVAL);

    weft_pool *p = wtc_pool_new(2);
    struct nulls nu = {0};
    cr_assert_eq(wtc_run_task(p, nulls_task, &nu, NULL), WEFT_OK);
    cr_assert_eq(nu.spawn_g, WEFT_EINVAL);
    cr_assert_eq(nu.spawn_null_result, WEFT_OK, "a NULL result is legal");
    cr_assert_eq(nu.spawn_fn, WEFT_EINVAL);
    cr_assert_eq(nu.sync_null, WEFT_EINVAL);
    cr_assert_eq(nu.join_a, WEFT_EINVAL);
    cr_assert_eq(nu.join_b, WEFT_EINVAL);
    cr_assert_eq(nu.join_both, WEFT_EINVAL);
    cr_assert_eq(nu.sync_g, WEFT_EINVAL, "g's failed spawns are reported at its sync");
    cr_assert_eq(atomic_load(&nu.null_result_ran), 1, "and its good child ran");
    cr_assert_eq(atomic_load(&nu.ran), 0);
    cr_assert_eq(atomic_load(&ran), 0);
    wtc_pool_drop(p);
}

/* ---- weft_sync_take: children run by the caller, typed --------------------- */

/* fib with typed children: the parent calls weft_sync_take once per child,
 * newest first; what is still private comes back and is computed by a
 * direct call to tfib, the rest is synced, having run through tfib_task,
 * which stores the value in the record and returns it as its result (the
 * children are spawned with a NULL result pointer: the take hands the
 * result back). Counts say who ran each child. */
struct tfib_kid {
    unsigned n;
    uint64_t value; /* written by tfib_task only */
};

static _Atomic uint64_t tfib_by_fn;    /* children run through fn */
static _Atomic uint64_t tfib_by_taker; /* children taken back */

static uint64_t tfib(weft_ctx *ctx, unsigned n, int *rc);

static int tfib_task(weft_ctx *ctx, void *arg, void **result)
{
    struct tfib_kid *k = arg;
    atomic_fetch_add_explicit(&tfib_by_fn, 1, memory_order_relaxed);
    int rc = WEFT_OK;
    k->value = tfib(ctx, k->n, &rc);
    *result = (void *)(uintptr_t)k->value;
    return rc;
}

static uint64_t tfib(weft_ctx *ctx, unsigned n, int *rc)
{
    if (n < 2)
        return n;
    weft_group g;
    struct tfib_kid kids[2] = {{n - 1, 0}, {n - 2, 0}};
    weft_group_init(&g, ctx);
    unsigned spawned = 0;
    while (spawned < 2 && *rc == WEFT_OK) {
        *rc = weft_spawn(&g, tfib_task, &kids[spawned], NULL);
        spawned += *rc == WEFT_OK;
    }
    uint64_t sum = 0;
    /* Newest first: one call per child (a failed spawn, which ended the
     * spawning, comes first, in its place), then WEFT_EOF. */
    for (unsigned i = spawned;;) {
        void *v = NULL;
        int r = weft_sync_take(&g, &v);
        if (r == WEFT_EOF) {
            if (i != 0 && *rc == WEFT_OK)
                *rc = -2001; /* children lost */
            break;
        }
        if (r < 0 && r != WEFT_ETASK) { /* the failed spawn */
            if (*rc == WEFT_OK)
                *rc = -2002;
            continue;
        }
        if (i == 0) { /* more children than were spawned */
            *rc = -2003;
            (void)weft_sync(&g);
            break;
        }
        struct tfib_kid *k = &kids[--i];
        if (r > 0) {
            if (r != 1 || v != k) /* not the most recent one */
                *rc = -2000;
            atomic_fetch_add_explicit(&tfib_by_taker, 1, memory_order_relaxed);
            sum += tfib(ctx, k->n, rc);
        } else if (r == WEFT_OK) {
            if ((uintptr_t)v != k->value)
                *rc = -2004; /* the result handed back */
            sum += k->value;
        } else if (*rc == WEFT_OK) {
            *rc = weft_task_status();
        }
    }
    return sum;
}

static int tfib_root(weft_ctx *ctx, void *arg, void **result)
{
    int rc = WEFT_OK;
    *result = (void *)(uintptr_t)tfib(ctx, (unsigned)(uintptr_t)arg, &rc);
    return rc;
}

Test(group, typed_fib_by_sync_take_matches_serial_on_1_2_3_workers)
{
    static const unsigned ns[] = {0, 1, 2, 9, 20, 25};
    for (size_t k = 0; k < NPOOLS; k++) {
        weft_pool *p = wtc_pool_new(pool_sizes[k]);
        for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
            atomic_store(&tfib_by_fn, 0);
            atomic_store(&tfib_by_taker, 0);
            void *v = NULL;
            cr_assert_eq(wtc_run_task(p, tfib_root, (void *)(uintptr_t)ns[i], &v), WEFT_OK);
            cr_assert_eq((uint64_t)(uintptr_t)v, wt_fib(ns[i]), "fib(%u) on %u workers", ns[i],
                         pool_sizes[k]);
            /* Every spawn ran exactly once, by one of the two routes: a
             * tree for fib(n) has 2 * fib(n + 1) - 2 children. */
            uint64_t spawns = ns[i] < 2 ? 0 : 2 * wt_fib(ns[i] + 1) - 2;
            cr_assert_eq(atomic_load(&tfib_by_fn) + atomic_load(&tfib_by_taker), spawns);
            if (pool_sizes[k] == 1) /* no thief: every child is taken back */
                cr_assert_eq(atomic_load(&tfib_by_fn), 0);
        }
        wtc_pool_drop(p);
    }
}

/* What weft_sync_take hands back, one child per call, newest first: a
 * private child is taken back (1, its argument); any other is synced alone
 * (WEFT_OK and its result, WEFT_ETASK, or a failed spawn's error in its
 * place); WEFT_EOF once none is left. */
struct take_extra {
    _Atomic int runs;
    int status; /* returned by the child */
};

struct take_probe {
    _Atomic int ran[5]; /* ran[i]: child i ran through fn */
    int order_ok;       /* take gave 4 (value NULL), then 3, then 2, in that order */
    int null_g, empty_g, no_ctx, foreign, after_sync;
    int sync_rc;
    /* A group whose older children were handed to thieves at once
     * (weft__spawn_eager), newest first: a private kid (taken back), a
     * failing published kid, a failed spawn, a published kid with a
     * result; then WEFT_EOF. */
    struct take_extra lazy_kid, fail_kid;
    int value_kid;
    int mixed_spawn[4];
    int mixed_rc[5];
    void *mixed_value[5];
    void *value_kid_result;
    int fail_status;
};

static struct take_probe *take_cur;

/* Where nothing was taken or synced: *value is left alone. */
static int take_none;
#define TAKE_NONE ((void *)&take_none)

static int take_child(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)result;
    atomic_fetch_add(&take_cur->ran[(uintptr_t)arg], 1);
    return 0;
}

static int take_extra_child(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)result;
    struct take_extra *e = arg;
    atomic_fetch_add(&e->runs, 1);
    return e->status;
}

struct take_foreign {
    weft_group *g;
    void *got;
    int rc;
};

/* The library function (parenthesised name) checks the thread; the inline
 * form does not, and using the group from here through it would race. */
static void *take_foreign_thread(void *arg)
{
    struct take_foreign *tf = arg;
    tf->rc = (weft_sync_take)(tf->g, &tf->got);
    return NULL;
}

static int take_parent(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    struct take_probe *tp = arg;
    weft_group g, empty, noctx;
    void *got = TAKE_NONE;
    weft_group_init(&empty, ctx);
    weft_group_init(&noctx, NULL);
    tp->null_g = weft_sync_take(NULL, &got) == WEFT_EINVAL && got == TAKE_NONE;
    tp->empty_g = weft_sync_take(&empty, &got) == WEFT_EOF && got == TAKE_NONE;
    /* Without a task context every call is WEFT_EPERM. */
    tp->no_ctx = weft_spawn(&noctx, take_child, (void *)0, NULL) == WEFT_EPERM &&
                 weft_sync_take(&noctx, &got) == WEFT_EPERM &&
                 weft_sync_take(&noctx, &got) == WEFT_EPERM && got == TAKE_NONE;

    weft_group_init(&g, ctx);
    for (uintptr_t i = 0; i < 5; i++)
        if (weft_spawn(&g, take_child, (void *)i, NULL) != WEFT_OK)
            return -1000;
    /* Another thread gets WEFT_EPERM, and the child stays with the group. */
    struct take_foreign tf = {.g = &g, .got = TAKE_NONE};
    pthread_t t;
    if (pthread_create(&t, NULL, take_foreign_thread, &tf) != 0) {
        weft_sync(&g);
        return -1001;
    }
    pthread_join(t, NULL);
    tp->foreign = tf.rc == WEFT_EPERM && tf.got == TAKE_NONE;
    int r4 = weft_sync_take(&g, NULL); /* value may be NULL */
    void *a = TAKE_NONE, *b = TAKE_NONE;
    int ra = weft_sync_take(&g, &a);
    int rb = weft_sync_take(&g, &b);
    tp->order_ok = r4 == 1 && ra == 1 && rb == 1 && a == (void *)3 && b == (void *)2;
    tp->sync_rc = weft_sync(&g); /* runs children 1 and 0 through fn */
    got = TAKE_NONE;
    tp->after_sync = weft_sync_take(&g, &got) == WEFT_EOF && got == TAKE_NONE;

    weft_group h;
    weft_group_init(&h, ctx);
    tp->fail_kid.status = -33;
    tp->value_kid_result = TAKE_NONE;
    tp->mixed_spawn[0] = weft__spawn_eager(&h, wt_value_task, &tp->value_kid,
                                           &tp->value_kid_result);
    tp->mixed_spawn[1] = weft_spawn(&h, NULL, NULL, NULL);
    tp->mixed_spawn[2] = weft__spawn_eager(&h, take_extra_child, &tp->fail_kid, NULL);
    tp->mixed_spawn[3] = weft_spawn(&h, take_extra_child, &tp->lazy_kid, NULL);
    for (int i = 0; i < 5; i++) {
        tp->mixed_value[i] = TAKE_NONE;
        tp->mixed_rc[i] = weft_sync_take(&h, &tp->mixed_value[i]);
        if (tp->mixed_rc[i] == WEFT_ETASK)
            tp->fail_status = weft_task_status();
    }
    return 0;
}

Test(group, sync_take_returns_private_children_newest_first_and_sync_runs_the_rest)
{
    weft_pool *p = wtc_pool_new(1); /* one worker: nothing is stolen */
    struct take_probe tp = {0};
    take_cur = &tp;
    cr_assert_eq(wtc_run_task(p, take_parent, &tp, NULL), WEFT_OK);
    cr_assert(tp.null_g, "NULL: WEFT_EINVAL, nothing taken");
    cr_assert(tp.empty_g, "an empty group: WEFT_EOF, nothing taken");
    cr_assert(tp.no_ctx, "a group without a task: WEFT_EPERM");
    cr_assert(tp.foreign, "another thread must get WEFT_EPERM and nothing");
    cr_assert(tp.order_ok);
    cr_assert_eq(tp.sync_rc, WEFT_OK);
    cr_assert(tp.after_sync, "after the sync: WEFT_EOF");
    cr_assert_eq(atomic_load(&tp.ran[0]), 1);
    cr_assert_eq(atomic_load(&tp.ran[1]), 1);
    cr_assert_eq(atomic_load(&tp.ran[2]), 0, "taken children are the caller's to run");
    cr_assert_eq(atomic_load(&tp.ran[3]), 0);
    cr_assert_eq(atomic_load(&tp.ran[4]), 0);

    cr_assert_eq(tp.mixed_spawn[0], WEFT_OK);
    cr_assert_eq(tp.mixed_spawn[1], WEFT_EINVAL);
    cr_assert_eq(tp.mixed_spawn[2], WEFT_OK);
    cr_assert_eq(tp.mixed_spawn[3], WEFT_OK);
    cr_assert_eq(tp.mixed_rc[0], 1, "the private kid is taken back (got %d)", tp.mixed_rc[0]);
    cr_assert_eq(tp.mixed_value[0], &tp.lazy_kid, "with its argument");
    cr_assert_eq(atomic_load(&tp.lazy_kid.runs), 0, "and never run through fn");
    cr_assert_eq(tp.mixed_rc[1], WEFT_ETASK, "a published kid is synced (got %d)",
                 tp.mixed_rc[1]);
    cr_assert_eq(tp.fail_status, -33, "with its own status");
    cr_assert_eq(tp.mixed_value[1], TAKE_NONE, "a failure hands back no value");
    cr_assert_eq(atomic_load(&tp.fail_kid.runs), 1, "it ran once");
    cr_assert_eq(tp.mixed_rc[2], WEFT_EINVAL, "the failed spawn, in its place (got %d)",
                 tp.mixed_rc[2]);
    cr_assert_eq(tp.mixed_rc[3], WEFT_OK, "a published kid that succeeded (got %d)",
                 tp.mixed_rc[3]);
    cr_assert_eq(tp.mixed_value[3], &tp.value_kid, "hands back its result");
    cr_assert_eq(tp.value_kid_result, &tp.value_kid, "also through its result pointer");
    cr_assert_eq(tp.mixed_rc[4], WEFT_EOF, "then nothing is left (got %d)", tp.mixed_rc[4]);
    cr_assert_eq(tp.mixed_value[4], TAKE_NONE);
    wtc_pool_drop(p);
    cr_assert_eq(weft_sync_take(NULL, NULL), WEFT_EINVAL);
}

/* ---- siblings: a wait inside an inline child never runs a sibling ---------- */

/* P spawns A, then B. weft_sync runs B inline; B submits G and waits for
 * it, which helps. A waits for a promise that B completes only after G. If
 * B's wait ran A (a sibling spawned earlier, still private below B), A
 * would wait on top of B for what B does after its wait: a deadlock, which
 * the timed wait in the test turns into a failure. */
struct siblings {
    weft_future *promise;
    int a_rc, b_rc, g_rc;
    _Atomic int order; /* 1: B set the promise before A finished */
};

static int sib_a(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)result;
    struct siblings *sb = arg;
    sb->a_rc = weft_future_result(sb->promise, WEFT_FOREVER, NULL);
    return 0;
}

static int sib_b(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    struct siblings *sb = arg;
    weft_future *g = NULL;
    if (weft_submit(weft_ctx_pool(ctx), wt_value_task, (void *)(uintptr_t)7, NULL, &g) != WEFT_OK)
        return -1000;
    void *v = NULL;
    sb->g_rc = weft_future_result(g, WEFT_FOREVER, &v); /* helps */
    weft_future_release(g);
    if ((uintptr_t)v != 7)
        sb->g_rc = -1001;
    atomic_store(&sb->order, 1);
    sb->b_rc = weft_promise_set_result(sb->promise, NULL, NULL);
    return 0;
}

static int sib_parent(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    struct siblings *sb = arg;
    weft_group g;
    void *a = NULL, *b = NULL;
    weft_group_init(&g, ctx);
    if (weft_spawn(&g, sib_a, sb, &a) != WEFT_OK || weft_spawn(&g, sib_b, sb, &b) != WEFT_OK) {
        weft_sync(&g);
        return -1002;
    }
    return weft_sync(&g);
}

Test(group, a_wait_in_an_inline_child_never_runs_its_sibling)
{
    for (unsigned workers = 1; workers <= 2; workers++) {
        weft_pool *p = wtc_pool_new(workers);
        for (int round = 0; round < 50; round++) {
            struct siblings sb = {0};
            cr_assert_eq(weft_promise_create(&sb.promise), WEFT_OK);
            weft_future *f = NULL;
            cr_assert_eq(weft_submit(p, sib_parent, &sb, NULL, &f), WEFT_OK);
            /* A deadlock never completes: fail after 10 s instead of hanging. */
            cr_assert_eq(weft_future_result(f, 10 * 1000000000ll, NULL), WEFT_OK,
                         "deadlock on %u workers, round %d", workers, round);
            weft_future_release(f);
            cr_assert_eq(sb.a_rc, WEFT_OK);
            cr_assert_eq(sb.b_rc, WEFT_OK);
            cr_assert_eq(sb.g_rc, WEFT_OK);
            cr_assert_eq(atomic_load(&sb.order), 1);
            weft_future_release(sb.promise);
        }
        wtc_pool_drop(p);
    }
}

/* A tree of such sibling dependencies: every node spawns A, which waits for
 * the node's promise, and Z, which builds the subtree below (stolen parts
 * and all) and only then completes the promise. On 2 workers, children are
 * stolen and syncs leapfrog onto thieves; a leapfrogging wait that stole an
 * A from a deque holding older work would run it on top of a Z below it. */
struct sibtree {
    weft_future *promise;
    unsigned depth;
    _Atomic uint64_t *nodes;
};

static int sibtree_node(weft_ctx *ctx, void *arg, void **result);

static int sibtree_a(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)result;
    return weft_future_result(((struct sibtree *)arg)->promise, WEFT_FOREVER, NULL);
}

static int sibtree_z(weft_ctx *ctx, void *arg, void **result)
{
    struct sibtree *t = arg;
    int rc = WEFT_OK;
    if (t->depth > 0) {
        struct sibtree below = {NULL, t->depth - 1, t->nodes};
        rc = sibtree_node(ctx, &below, result);
    }
    /* A helping wait before the promise: the place where a sibling could
     * be picked up. */
    weft_future *g = NULL;
    if (rc == WEFT_OK && (rc = weft_submit(weft_ctx_pool(ctx), wt_value_task, NULL, NULL, &g)) == WEFT_OK) {
        rc = weft_future_result(g, WEFT_FOREVER, NULL);
        weft_future_release(g);
    }
    int rs = weft_promise_set_result(t->promise, NULL, NULL);
    return rc != WEFT_OK ? rc : rs;
}

static int sibtree_node(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    struct sibtree *t = arg;
    atomic_fetch_add(t->nodes, 1);
    struct sibtree kids[2] = {{NULL, t->depth, t->nodes}, {NULL, t->depth, t->nodes}};
    if (weft_promise_create(&kids[0].promise) != WEFT_OK)
        return -1000;
    kids[1].promise = kids[0].promise; /* the same promise, seen by A and Z */
    weft_group g;
    void *a = NULL, *z = NULL, *z2 = NULL;
    struct sibtree second = {NULL, t->depth, t->nodes};
    int rc = weft_promise_create(&second.promise);
    weft_group_init(&g, ctx);
    /* A first (oldest), then two Zs: the second one's promise is unused by
     * any A, it only makes the tree branch. */
    if (rc == WEFT_OK)
        rc = weft_spawn(&g, sibtree_a, &kids[0], &a);
    if (rc == WEFT_OK)
        rc = weft_spawn(&g, sibtree_z, &second, &z2);
    if (rc == WEFT_OK)
        rc = weft_spawn(&g, sibtree_z, &kids[1], &z);
    int rs = weft_sync(&g);
    weft_future_release(kids[0].promise);
    if (second.promise != NULL)
        weft_future_release(second.promise);
    return rc != WEFT_OK ? rc : rs;
}

Test(group, a_tree_of_sibling_dependencies_completes_on_1_and_2_workers)
{
    for (unsigned workers = 1; workers <= 2; workers++) {
        weft_pool *p = wtc_pool_new(workers);
        for (int round = 0; round < 20; round++) {
            _Atomic uint64_t nodes = 0;
            struct sibtree root = {NULL, 9, &nodes};
            weft_future *f = NULL;
            cr_assert_eq(weft_submit(p, sibtree_node, &root, NULL, &f), WEFT_OK);
            cr_assert_eq(weft_future_result(f, 20 * 1000000000ll, NULL), WEFT_OK,
                         "deadlock on %u workers, round %d", workers, round);
            weft_future_release(f);
            /* depth d: 1 node plus two Z subtrees of depth d-1: 2^(d+1)-1 */
            cr_assert_eq(atomic_load(&nodes), (1u << 10) - 1);
        }
        wtc_pool_drop(p);
    }
}

/* ---- leapfrogging and spares ------------------------------------------------ */

/* Worker A runs the root, which spawns C into an eager group (pushed at
 * once, where worker B steals it) and waits, spawning trivial children,
 * until C has started on B. C spawns G1 then G2 and syncs: G2 runs inline on
 * B and waits for a promise that only G1 completes. B may not run G1 (a
 * sibling below G2's frame), and A's own deque holds nothing. So G1 runs
 * either on A, waiting for C, leapfrogging onto C's thief B and stealing
 * G1, or on a spare that takes the place of a blocked A or B (spare.h):
 * with neither, G2's wait times out and the test fails. */
#define LEAP_TIMEOUT_NS (5 * 1000000000ll)

struct leap {
    _Atomic int c_started;
    weft_future *promise;
    unsigned root_worker, c_worker, g1_worker;
    int g2_rc;
};

static int leap_g1(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    struct leap *s = arg;
    s->g1_worker = weft_ctx_worker(ctx);
    return weft_promise_set_result(s->promise, NULL, NULL);
}

static int leap_g2(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)result;
    struct leap *s = arg;
    s->g2_rc = weft_future_result(s->promise, LEAP_TIMEOUT_NS, NULL);
    return s->g2_rc;
}

static int leap_c(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    struct leap *s = arg;
    s->c_worker = weft_ctx_worker(ctx);
    atomic_store(&s->c_started, 1);
    weft_group g;
    void *g1 = NULL, *g2 = NULL;
    weft_group_init(&g, ctx);
    int rc = weft_spawn(&g, leap_g1, s, &g1);
    if (rc == WEFT_OK)
        rc = weft_spawn(&g, leap_g2, s, &g2);
    int rs = weft_sync(&g);
    return rc != WEFT_OK ? rc : rs;
}

static int leap_root(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    struct leap *s = arg;
    s->root_worker = weft_ctx_worker(ctx);
    weft_group g;
    void *c = NULL;
    /* Published at once (the runtime's eager spawn, as parallel loops
     * use): a lazy child waits for a thief's request, and a thief that
     * parked before the spawn never asks again. */
    weft_group_init(&g, ctx);
    int rc = weft__spawn_eager(&g, leap_c, s, &c);
    /* Until B has C (at most 5 s): each spawn publishes if B asked. */
    for (int ms = 0; rc == WEFT_OK && !atomic_load(&s->c_started) && ms < 5000; ms++) {
        wt_sleep_us(1000);
        weft_group t;
        void *d = NULL;
        weft_group_init(&t, ctx);
        rc = weft_spawn(&t, wt_value_task, NULL, &d);
        int rt = weft_sync(&t);
        if (rc == WEFT_OK)
            rc = rt;
    }
    int rs = weft_sync(&g);
    return rc != WEFT_OK ? rc : rs;
}

/* The same with C submitted as a future: from worker A it goes on A's
 * deque, where B steals it. Returns once B has started it, or after 5 s. */
static int leap_submit_c(weft_ctx *ctx, struct leap *s, weft_future **f)
{
    s->root_worker = weft_ctx_worker(ctx);
    int rc = weft_submit(weft_ctx_pool(ctx), leap_c, s, NULL, f);
    if (rc == WEFT_OK)
        wt_await_set(&s->c_started, LEAP_TIMEOUT_NS, 1000);
    return rc;
}

/* C's future awaited with weft_future_result. */
static int leap_root_future(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    weft_future *f = NULL;
    int rc = leap_submit_c(ctx, arg, &f);
    if (rc != WEFT_OK)
        return rc;
    rc = weft_future_result(f, WEFT_FOREVER, NULL);
    weft_future_release(f);
    return rc;
}

/* The same with C's future in a wait set, after a future that is done
 * already: weft_wait (all completed) and as_completed leapfrog onto the
 * worker that runs the first future they still wait for. */
static int leap_root_set(weft_ctx *ctx, struct leap *s, bool iterate)
{
    weft_future *fs[2] = {NULL, NULL};
    int rc = weft_promise_create(&fs[0]);
    if (rc == WEFT_OK)
        rc = weft_promise_set_result(fs[0], NULL, NULL);
    if (rc == WEFT_OK)
        rc = leap_submit_c(ctx, s, &fs[1]);
    if (rc == WEFT_OK) {
        if (iterate) {
            weft_as_completed *it = NULL;
            weft_future *f = NULL;
            size_t index = 0;
            rc = weft_as_completed_begin(&it, fs, 2, WEFT_FOREVER);
            for (int k = 0; rc == WEFT_OK && k < 2; k++)
                rc = weft_as_completed_next(it, &f, &index);
            if (it != NULL)
                weft_as_completed_end(it);
        } else {
            rc = weft_wait(fs, 2, WEFT_FOREVER, WEFT_ALL_COMPLETED, NULL);
        }
        if (rc == WEFT_OK) /* C's own outcome: G2's wait */
            rc = weft_future_result(fs[1], 0, NULL);
    }
    for (int k = 0; k < 2; k++)
        if (fs[k] != NULL)
            weft_future_release(fs[k]);
    return rc;
}

static int leap_root_wait(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    return leap_root_set(ctx, arg, false);
}

static int leap_root_iterate(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    return leap_root_set(ctx, arg, true);
}

static void check_leapfrog(weft_fn root, const char *what)
{
    weft_pool *p = wtc_pool_new(2);
    for (int round = 0; round < 5; round++) {
        struct leap s = {.c_started = 0};
        cr_assert_eq(weft_promise_create(&s.promise), WEFT_OK);
        cr_assert_eq(wtc_run_task(p, root, &s, NULL), WEFT_OK,
                     "%s, round %d: G2's wait gave %d (%s)", what, round, s.g2_rc,
                     weft_strerror(s.g2_rc));
        cr_assert(atomic_load(&s.c_started));
        cr_assert_neq(s.c_worker, s.root_worker, "%s: C must be stolen", what);
        /* G1 runs on A leapfrogging, or on a spare taking the place of
         * a blocked worker (B blocks in G2's wait); never on B under G2. */
        cr_assert_neq(s.g1_worker, s.c_worker, "%s: G1 ran under G2 on C's thief", what);
        weft_future_release(s.promise);
    }
    wtc_pool_drop(p);
}

Test(group, a_sync_on_a_stolen_child_leapfrogs_onto_its_thief)
{
    check_leapfrog(leap_root, "spawned child");
}

Test(group, a_wait_on_a_stolen_future_leapfrogs_onto_its_thief)
{
    check_leapfrog(leap_root_future, "future");
}

Test(group, a_wait_set_leapfrogs_onto_the_thief_of_its_first_pending_future)
{
    check_leapfrog(leap_root_wait, "weft_wait");
    check_leapfrog(leap_root_iterate, "as_completed");
}

/* ---- futures inside groups ----------------------------------------------- */

struct submit_in_group {
    uint64_t child[2];
    uint64_t fut_value;
    int fut_rc, fut_done;
};

static int fib_value_task(weft_ctx *ctx, void *arg, void **result)
{
    return wt_fib_spawn(ctx, arg, result);
}

static int submit_in_group(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    struct submit_in_group *s = arg;
    weft_group g;
    void *a = NULL, *b = NULL;
    weft_group_init(&g, ctx);
    if (weft_spawn(&g, wt_fib_spawn, (void *)(uintptr_t)12, &a) != WEFT_OK)
        return -1000;
    /* From a worker the future goes on this worker's deque, above child a. */
    weft_future *f = NULL;
    int rc = weft_submit(weft_ctx_pool(ctx), fib_value_task, (void *)(uintptr_t)14, NULL, &f);
    if (weft_spawn(&g, wt_fib_spawn, (void *)(uintptr_t)13, &b) != WEFT_OK) {
        weft_sync(&g);
        return -1001;
    }
    int rs = weft_sync(&g);
    if (rc != WEFT_OK)
        return rc;
    s->child[0] = (uintptr_t)a;
    s->child[1] = (uintptr_t)b;
    void *v = NULL;
    s->fut_rc = weft_future_result(f, WEFT_FOREVER, &v);
    s->fut_done = weft_future_done(f);
    s->fut_value = (uintptr_t)v;
    weft_future_release(f);
    return rs;
}

Test(group, submit_inside_a_group_then_sync)
{
    for (size_t k = 0; k < NPOOLS; k++) {
        weft_pool *p = wtc_pool_new(pool_sizes[k]);
        for (int round = 0; round < 20; round++) {
            struct submit_in_group s = {0};
            cr_assert_eq(wtc_run_task(p, submit_in_group, &s, NULL), WEFT_OK);
            cr_assert_eq(s.child[0], wt_fib(12));
            cr_assert_eq(s.child[1], wt_fib(13));
            cr_assert_eq(s.fut_rc, WEFT_OK);
            cr_assert(s.fut_done);
            cr_assert_eq(s.fut_value, wt_fib(14));
        }
        wtc_pool_drop(p);
    }
}

Test(group, fib_25_by_nested_futures_on_1_and_2_workers)
{
    for (unsigned workers = 1; workers <= 2; workers++) {
        weft_pool *p = wtc_pool_new(workers);
        void *v = NULL;
        cr_assert_eq(wtc_run_task(p, wt_fib_futures, (void *)(uintptr_t)25, &v), WEFT_OK);
        cr_assert_eq((uintptr_t)v, 75025u, "fib(25) on %u workers", workers);
        wtc_pool_drop(p);
    }
}

/* ---- a deep chain ------------------------------------------------------------ */

#define CHAIN_DEPTH 5000

static int chain(weft_ctx *ctx, void *arg, void **result)
{
    uintptr_t depth = (uintptr_t)arg;
    if (depth == 0) {
        *result = (void *)(uintptr_t)1;
        return 0;
    }
    weft_group g;
    void *c = NULL;
    weft_group_init(&g, ctx);
    int rc = weft_spawn(&g, chain, (void *)(depth - 1), &c);
    if (rc != WEFT_OK)
        return rc;
    wt_spin_work(depth, 200); /* lets the other worker steal now and then */
    rc = weft_sync(&g);
    *result = (void *)((uintptr_t)c + 1);
    return rc;
}

Test(group, a_chain_5000_deep_completes_on_1_and_2_workers)
{
    for (unsigned workers = 1; workers <= 2; workers++) {
        weft_pool *p = wtc_pool_new(workers); /* default 8 MiB worker stacks */
        for (int round = 0; round < 3; round++) {
            void *v = NULL;
            cr_assert_eq(wtc_run_task(p, chain, (void *)(uintptr_t)CHAIN_DEPTH, &v), WEFT_OK);
            cr_assert_eq((uintptr_t)v, CHAIN_DEPTH + 1u, "chain on %u workers", workers);
        }
        wtc_pool_drop(p);
    }
}

/* ---- sync after a helping wait ------------------------------------------------ */

/* A task spawns c1, submits a trivial future, spawns c2, waits on the future
 * and then syncs. On one worker the helping wait pops c2 (the top of the
 * deque) and runs it before the future. The sync must then only finish the
 * group: the nesting of running nodes on the worker's stack must stay
 * bounded by the tree depth. Running work of the ancestors' frames inside
 * that sync nests every pending subtree on one stack (2^depth frames; depth
 * 16 overflows an 8 MiB stack). */
struct helped {
    unsigned depth;
    int use_weft_wait;    /* wait with weft_wait() instead of weft_future_wait() */
    unsigned active, max; /* nodes running on the (single) worker */
};

static struct helped *helped_cur;

static int helped_node(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    uintptr_t d = (uintptr_t)arg;
    struct helped *h = helped_cur; /* one worker: plain fields are enough */
    if (++h->active > h->max)
        h->max = h->active;
    int rc = 0;
    if (d > 0) {
        weft_group g;
        void *c1 = NULL, *c2 = NULL;
        weft_future *f = NULL;
        weft_group_init(&g, ctx);
        rc |= weft_spawn(&g, helped_node, (void *)(d - 1), &c1);
        rc |= weft_submit(weft_ctx_pool(ctx), wt_value_task, NULL, NULL, &f);
        rc |= weft_spawn(&g, helped_node, (void *)(d - 1), &c2);
        if (f != NULL) {
            if (h->use_weft_wait)
                rc |= weft_wait(&f, 1, WEFT_FOREVER, WEFT_ALL_COMPLETED, NULL);
            else
                rc |= weft_future_wait(f, WEFT_FOREVER); /* helps: runs c2 first */
            weft_future_release(f);
        }
        rc |= weft_sync(&g);
    }
    h->active--;
    return rc;
}

Test(group, sync_after_a_wait_that_ran_a_child_stays_within_the_tree_depth)
{
    for (int mode = 0; mode < 2; mode++) {
        weft_pool *p = wtc_pool_new(1);
        struct helped h = {.depth = 10, .use_weft_wait = mode};
        helped_cur = &h;
        cr_assert_eq(wtc_run_task(p, helped_node, (void *)(uintptr_t)h.depth, NULL), WEFT_OK);
        cr_expect_leq(h.max, h.depth + 1,
                      "%s: %u nodes nested on one worker's stack for a tree of depth %u: "
                      "weft_sync ran tasks of its ancestors' frames",
                      mode ? "weft_wait" : "weft_future_wait", h.max, h.depth);
        wtc_pool_drop(p);
    }
}

/* ---- strict fork/join (debug builds) ------------------------------------------ */

/* A task that returns without weft_sync leaves its children's records in a
 * dead frame. Debug builds (no NDEBUG, as the asan preset) stop the process
 * at the task's end; release builds do not check, so these tests are
 * disabled there. unsynced_task's arg selects where the child is when the
 * task returns: 0, still private; 1, exposed and run by a helping wait. */
static int unsynced_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    static void *c = NULL; /* outlives the frame: only the check may fire */
    weft_group g;
    weft_group_init(&g, ctx);
    if (weft_spawn(&g, wt_value_task, NULL, &c) != WEFT_OK)
        return -1;
    if (arg != NULL) {
        weft_future *never = NULL;
        if (weft_promise_create(&never) != WEFT_OK)
            return -2;
        /* Helps first: runs the private child as an exposed task. */
        int rc = weft_future_wait(never, 20 * 1000000ll);
        weft_future_release(never);
        if (rc != WEFT_ETIMEDOUT)
            return -3;
    }
    return 0; /* no weft_sync(&g) */
}

#ifdef NDEBUG
#define STRICT_CHECKED .disabled = true /* release: not checked */
#else
#define STRICT_CHECKED .signal = SIGABRT
#endif

static void run_unsynced(void *mode)
{
    weft_pool *p = wtc_pool_new(1);
    wtc_run_task(p, unsynced_task, mode, NULL);
    /* The check runs after the task's future completed: joining the worker
     * waits for it. */
    weft_pool_destroy(p);
    cr_assert_fail("a task returned with an unsynced child and the process lived");
}

Test(group, a_task_returning_with_a_private_unsynced_child_aborts_in_debug_builds,
     STRICT_CHECKED)
{
    run_unsynced(NULL);
}

Test(group, a_task_returning_with_an_exposed_unsynced_child_aborts_in_debug_builds,
     STRICT_CHECKED)
{
    run_unsynced((void *)1);
}

/* ---- idle workers see new children at once ------------------------------------ */

/* A coarse leaf: busy for LEAF_NS, recording its thread and its interval. */
enum { LEAF_NS = 50 * 1000 * 1000, IDLE_ROUNDS = 10 };

struct leaf_run {
    pthread_t thread;
    int64_t start, end;
};

static int coarse_leaf(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)result;
    struct leaf_run *r = arg;
    r->thread = pthread_self();
    r->start = wt_now_ns();
    wt_spin_ns(LEAF_NS);
    r->end = wt_now_ns();
    return 0;
}

struct two_leaves {
    bool by_join;
    struct leaf_run a, b;
    int rc;
};

/* weft_join(a, b), or spawn(a); b as a plain call; sync. */
static int two_leaves_root(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    struct two_leaves *t = arg;
    if (t->by_join) {
        t->rc = weft_join(ctx, coarse_leaf, &t->b, coarse_leaf, &t->a);
        return 0;
    }
    weft_group g;
    void *c = NULL;
    weft_group_init(&g, ctx);
    int rc = weft_spawn(&g, coarse_leaf, &t->a, &c);
    void *ignored = NULL;
    coarse_leaf(ctx, &t->b, &ignored);
    int rs = weft_sync(&g);
    t->rc = rc != WEFT_OK ? rc : rs;
    return 0;
}

/* A spawn made while a worker sleeps is published and wakes it: the two
 * leaves run on two threads at once, in every round (without it, the child
 * waits on the spawner's private stack until the spawner's sync runs it). */
Test(group, a_spawn_wakes_a_sleeping_worker_so_coarse_leaves_run_in_parallel, .timeout = 60)
{
    weft_pool *p = wtc_pool_new(2);
    for (int round = 0; round < 2 * IDLE_ROUNDS; round++) {
        struct two_leaves t = {.by_join = round % 2 == 0};
        wtc_await_all_parked(p);
        cr_assert_eq(weft_run(p, two_leaves_root, &t, NULL), WEFT_OK);
        cr_assert_eq(t.rc, WEFT_OK);
        cr_assert(!pthread_equal(t.a.thread, t.b.thread),
                  "round %d (%s): both leaves ran on one thread", round,
                  t.by_join ? "join" : "spawn, call, sync");
        cr_assert(t.a.start < t.b.end && t.b.start < t.a.end,
                  "round %d (%s): the leaves did not overlap", round,
                  t.by_join ? "join" : "spawn, call, sync");
    }
    wtc_pool_drop(p);
}

/* One task spawns many tiny children into one group while another worker
 * steals: a thief's request publishes the older half of the private
 * children, the owner takes the newer half back at its sync, and every
 * child runs exactly once whichever way it went. */
enum { FLAT_N = 200000 };

static struct {
    void *slots[FLAT_N];
    _Atomic uint8_t ran[FLAT_N];
    pthread_t owner;
    _Atomic uint64_t elsewhere; /* children run by another thread */
} flat;

static int flat_child(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)result;
    size_t i = (uintptr_t)arg;
    /* relaxed: counters read after the root completed. */
    atomic_fetch_add_explicit(&flat.ran[i], 1, memory_order_relaxed);
    if (!pthread_equal(pthread_self(), flat.owner))
        atomic_fetch_add_explicit(&flat.elsewhere, 1, memory_order_relaxed);
    wt_spin_work(i, 20);
    return 0;
}

/* Spawn fn(i) for i in [0, n) into one group, child i's result to
 * results[i], then sync: the first failing spawn's code, else the sync's. */
static int spawn_all_then_sync(weft_ctx *ctx, weft_fn fn, size_t n, void **results)
{
    weft_group g;
    weft_group_init(&g, ctx);
    int rc = WEFT_OK;
    for (size_t i = 0; i < n && rc == WEFT_OK; i++)
        rc = weft_spawn(&g, fn, (void *)(uintptr_t)i, &results[i]);
    int rs = weft_sync(&g);
    return rc != WEFT_OK ? rc : rs;
}

static int flat_root(weft_ctx *ctx, void *arg, void **result)
{
    (void)arg;
    (void)result;
    flat.owner = pthread_self();
    return spawn_all_then_sync(ctx, flat_child, FLAT_N, flat.slots);
}

Test(group, flat_spawns_with_a_thief_run_every_child_exactly_once, .timeout = 120)
{
    weft_pool *p = wtc_pool_new(2);
    uint64_t stolen = 0;
    for (int round = 0; round < 5; round++) {
        memset((void *)flat.ran, 0, sizeof(flat.ran));
        atomic_store(&flat.elsewhere, 0);
        cr_assert_eq(wtc_run_task(p, flat_root, NULL, NULL), WEFT_OK);
        for (size_t i = 0; i < FLAT_N; i++)
            cr_assert_eq(atomic_load(&flat.ran[i]), 1, "round %d: child %zu ran %d times", round,
                         i, atomic_load(&flat.ran[i]));
        stolen += atomic_load(&flat.elsewhere);
    }
    cr_assert_gt(stolen, 0, "the other worker took part");
    wtc_pool_drop(p);
}

/* Children that fork in turn, spawned flat by one task on 3 workers: the
 * children reach thieves in batches, each thief runs a batch's children
 * as frames of their own and hands parts of it to the next thief that
 * asks, and the grandchildren are spawned, published and synced inside
 * those frames. Every child and grandchild runs exactly once, and the
 * results come back through the result pointers. */
enum { FORKING_N = 30000 };

static struct {
    _Atomic uint8_t child[FORKING_N];
    _Atomic uint8_t grandchild[2 * FORKING_N];
    void *results[FORKING_N];
} forking;

static int forking_grandchild(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    size_t k = (uintptr_t)arg;
    /* relaxed: counters read after the root completed. */
    atomic_fetch_add_explicit(&forking.grandchild[k], 1, memory_order_relaxed);
    wt_spin_work(k, 10);
    *result = (void *)(uintptr_t)(k + 1);
    return 0;
}

static int forking_child(weft_ctx *ctx, void *arg, void **result)
{
    size_t i = (uintptr_t)arg;
    atomic_fetch_add_explicit(&forking.child[i], 1, memory_order_relaxed);
    weft_group g;
    void *a = NULL, *b = NULL;
    weft_group_init(&g, ctx);
    int rc = weft_spawn(&g, forking_grandchild, (void *)(uintptr_t)(2 * i), &a);
    if (rc == WEFT_OK)
        rc = weft_spawn(&g, forking_grandchild, (void *)(uintptr_t)(2 * i + 1), &b);
    int rs = weft_sync(&g);
    if (rc != WEFT_OK || rs != WEFT_OK)
        return rc != WEFT_OK ? rc : rs;
    *result = (void *)((uintptr_t)a + (uintptr_t)b);
    return 0;
}

static int forking_root(weft_ctx *ctx, void *arg, void **result)
{
    (void)arg;
    (void)result;
    return spawn_all_then_sync(ctx, forking_child, FORKING_N, forking.results);
}

Test(group, flat_children_that_fork_run_every_node_exactly_once_on_3_workers, .timeout = 120)
{
    weft_pool *p = wtc_pool_new(3);
    for (int round = 0; round < 5; round++) {
        memset((void *)&forking, 0, sizeof(forking));
        cr_assert_eq(wtc_run_task(p, forking_root, NULL, NULL), WEFT_OK);
        for (size_t i = 0; i < FORKING_N; i++) {
            cr_assert_eq(atomic_load(&forking.child[i]), 1, "round %d: child %zu ran %d times",
                         round, i, atomic_load(&forking.child[i]));
            cr_assert_eq(atomic_load(&forking.grandchild[2 * i]), 1);
            cr_assert_eq(atomic_load(&forking.grandchild[2 * i + 1]), 1);
            /* (2i + 1) + (2i + 2) */
            cr_assert_eq((uintptr_t)forking.results[i], 4 * i + 3, "round %d: child %zu's result",
                         round, i);
        }
    }
    wtc_pool_drop(p);
}
