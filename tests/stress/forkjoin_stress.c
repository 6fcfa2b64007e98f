/* Stress test for fork/join, nested future waits and concurrent parallel
 * loops (runtime/group.c, lazy.c, parallel.c, wait.c helping).
 *
 * Phases (each on pools of 1 and 2 workers where it applies)
 *   1. Trees: a random tree from a seeded splittable hash. Every node does a
 *      little random work and has 0..k children, spawned into a group and
 *      synced (some parents sync them one by one with weft_sync_take,
 *      newest first, and run the private ones themselves), or run by
 *      weft_join. Two shapes: "wide" (up to 8 children, shallow) and "deep"
 *      (mostly single-child chains, up to a few thousand levels). Some
 *      nodes fail with a status of their own.
 *   2. Mixed: the same trees, but each child is either spawned or submitted
 *      as a future (weft_submit from inside the task, so it lands on the
 *      worker's own deque); the parent waits for futures before or after
 *      syncing, by weft_future_result, by a short timed wait first, or
 *      by weft_wait(ALL_COMPLETED). Nested waits must never deadlock.
 *   3. Loops: two external threads issue weft_parallel_for and
 *      weft_parallel_reduce calls on one 2-worker pool at the same time
 *      (some loop bodies run nested loops), while the main thread runs
 *      trees on the same pool. Some calls come after a pause, so that
 *      workers park and the caller runs the loop in a parked worker's
 *      place (runtime/borrow.c); some first chunks submit a future that
 *      the caller awaits only after the loop.
 *
 * Oracles (exact)
 *   - Trees: node count, an order-sensitive checksum and the root status
 *     equal a serial traversal of the same tree; a global counter of
 *     executed nodes equals the node count (nothing ran twice or never);
 *     every child's result (through its spawn's result pointer, or handed
 *     back by weft_sync_take) and every future value is the child's own
 *     record; weft_sync_take gives the children newest first, each once,
 *     then WEFT_EOF.
 *   - Loops: every index is covered exactly once (a counter per index),
 *     reductions equal closed forms, and an index-order concatenation
 *     reduce is in order; a future submitted from a chunk runs (its wait
 *     has a timeout); some chunks ran on their calling threads.
 *   - No hang: an alarm() watchdog fails the run.
 *
 * Usage: forkjoin_stress [rounds]; env WEFT_STRESS_ITERS (rounds per
 * phase and pool) and WEFT_STRESS_SEED. Prints the seed and ends with
 * "N passed, M failed". */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "weft.h"
#include "weft_test.h"
#include "weft_tasks.h"


/* Rounds per phase and pool size, and tree sizes: a plain run takes a few
 * seconds on 2 vCPUs; sanitizer builds are slower and do less. */
#if defined(WT_TSAN)
#define DEFAULT_ROUNDS 16u
#define MAX_BUDGET 6000u
#define DEEP_MAX_DEPTH 800u
#elif defined(WT_ASAN)
#define DEFAULT_ROUNDS 60u
#define MAX_BUDGET 30000u
#define DEEP_MAX_DEPTH 2000u
#else
#define DEFAULT_ROUNDS 100u
#define MAX_BUDGET 40000u
#define DEEP_MAX_DEPTH 3000u
#endif

#define MAXK 8                /* children per node at most */
#define LOOP_MAX_N 40000u     /* indices per parallel_for in phase 3 */
#define WATCHDOG_S 100u
#define MAX_REPORTS 10u
#define FAIL_BASE 1000        /* node failure statuses are FAIL_BASE + x */

/* ---- helpers ---------------------------------------------------------------- */

static _Atomic uint64_t failures; /* oracle failures (also counted per check) */
static _Atomic uint64_t nodes_run; /* tree nodes executed in the current round */
static _Atomic uint64_t anomalies; /* wrong child results, unexpected API errors */
static uint32_t deepest;           /* deepest node the serial oracle saw */

static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    wt_vfail(&failures, MAX_REPORTS, fmt, ap);
    va_end(ap);
}

static void anomaly(void)
{
    /* relaxed: a counter checked after each round. */
    atomic_fetch_add_explicit(&anomalies, 1, memory_order_relaxed);
}

/* A stack overflow on a worker is a SIGSEGV on that worker's stack: each
 * worker gets an alternate signal stack (pool start hook) so that the run
 * still ends with a summary line. Sanitizers report crashes themselves. */
#if !defined(WT_ASAN) && !defined(WT_TSAN)
#define CRASH_HANDLER 1
#define ALT_STACK_SIZE (64u << 10)

static void on_crash(int sig)
{
    static const char segv[] = "FAIL: SIGSEGV (a stack overflow on a worker looks like this)\n"
                               "0 passed, 1 failed\n";
    static const char other[] = "FAIL: fatal signal\n0 passed, 1 failed\n";
    ssize_t r = sig == SIGSEGV ? write(STDOUT_FILENO, segv, sizeof(segv) - 1)
                               : write(STDOUT_FILENO, other, sizeof(other) - 1);
    (void)r;
    _exit(1);
}

static int worker_alt_stack(unsigned worker, void *ud)
{
    (void)worker;
    (void)ud;
    stack_t ss = {.ss_sp = malloc(ALT_STACK_SIZE), .ss_size = ALT_STACK_SIZE, .ss_flags = 0};
    if (ss.ss_sp != NULL && sigaltstack(&ss, NULL) != 0)
        free(ss.ss_sp);
    return 0;
}

static int worker_alt_stack_free(unsigned worker, void *ud)
{
    (void)worker;
    (void)ud;
    stack_t old, off = {.ss_flags = SS_DISABLE};
    if (sigaltstack(NULL, &old) == 0 && !(old.ss_flags & SS_DISABLE) &&
        sigaltstack(&off, NULL) == 0)
        free(old.ss_sp);
    return 0;
}

static void install_crash_handler(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_crash;
    sa.sa_flags = SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
}
#endif

static uint64_t mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

static uint64_t rotl(uint64_t x, unsigned r)
{
    r &= 63;
    return r ? (x << r) | (x >> (64 - r)) : x;
}

static uint64_t parse_u64(const char *s, const char *what)
{
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 0);
    if (end == s || *end != '\0') {
        fprintf(stderr, "bad %s: %s\n", what, s);
        exit(2);
    }
    return v;
}

static weft_pool *make_pool(unsigned workers)
{
    weft_pool_options o;
    weft_pool_options_init(&o);
    o.workers = workers;
#ifdef CRASH_HANDLER
    o.on_worker_start = worker_alt_stack;
    o.on_worker_stop = worker_alt_stack_free;
#endif
    weft_pool *p = NULL;
    int rc = weft_pool_create(&p, &o);
    if (rc != WEFT_OK) {
        fprintf(stderr, "FAIL: weft_pool_create(%u): %s\n", workers, weft_strerror(rc));
        printf("0 passed, 1 failed\n");
        exit(1);
    }
    return p;
}

/* ---- the random tree ------------------------------------------------------------ */

struct shape {
    const char *name;
    unsigned max_fanout; /* children of a branching node: 2..max_fanout */
    unsigned chain_pct;  /* chance (percent) that a node has one child */
    unsigned max_depth;  /* below it, nodes branch evenly (bounded stacks) */
    unsigned max_work;   /* work iterations per node: 0..max_work-1 */
    bool skewed;         /* one child takes nearly all of the budget */
    bool mixed;          /* children may be futures (phase 2) */
};

static const struct shape WIDE = {"wide", MAXK, 10, 64, 64, false, false};
static const struct shape DEEP = {"deep", 3, 80, DEEP_MAX_DEPTH, 16, true, false};
static const struct shape MIXED_WIDE = {"mixed-wide", 6, 10, 64, 64, false, true};
static const struct shape MIXED_DEEP = {"mixed-deep", 3, 70, DEEP_MAX_DEPTH / 4, 16, true, true};

enum child_mode { BY_SPAWN = 0, BY_FUTURE = 1 };

/* How a node waits for its futures. */
enum wait_style { WAIT_RESULT = 0, WAIT_POLL = 1, WAIT_ALL = 2 };

struct node {
    const struct shape *sh;
    uint64_t key;
    uint32_t budget; /* nodes in this subtree, including this one */
    uint32_t depth;
    /* outputs */
    uint64_t count, sum;
};

/* The node's own value: a little random work. */
static uint64_t node_value(const struct node *nd, uint64_t h)
{
    unsigned iters = (unsigned)(h % nd->sh->max_work);
    uint64_t v = nd->key;
    for (unsigned i = 0; i < iters; i++)
        v = v * 6364136223846793005ull + 1442695040888963407ull;
    return mix64(v ^ h);
}

/* The node's own failure status (rare), 0 otherwise. */
static int node_own_status(uint64_t h)
{
    return ((h >> 40) % 61 == 0) ? FAIL_BASE + (int)((h >> 48) % 1000) : 0;
}

static unsigned node_fanout(const struct node *nd, uint64_t h)
{
    if (nd->budget <= 1)
        return 0;
    unsigned k;
    if (nd->depth >= nd->sh->max_depth)
        k = 2;
    else if ((h >> 8) % 100 < nd->sh->chain_pct)
        k = 1;
    else
        k = 2 + (unsigned)((h >> 16) % (nd->sh->max_fanout - 1));
    return k < nd->budget - 1 ? k : nd->budget - 1;
}

/* Children's keys and budgets. Random splits; in skewed shapes one child
 * (at a random position) keeps nearly all of the budget, which makes long
 * chains. Past max_depth the split is even, so depth grows only
 * logarithmically from there. */
static void plan_children(const struct node *nd, uint64_t h, unsigned k, struct node *kids)
{
    uint32_t remaining = nd->budget - 1;
    bool even = nd->depth >= nd->sh->max_depth;
    unsigned big = k ? (unsigned)((h >> 32) % k) : 0;
    for (unsigned i = 0; i < k; i++) {
        uint64_t ck = mix64(nd->key ^ (0x9E3779B97F4A7C15ull * (i + 1)));
        uint32_t left = k - i; /* children still to place, each needs >= 1 */
        uint32_t most = remaining - left + 1;
        uint32_t b;
        if (left == 1)
            b = remaining;
        else if (even)
            b = remaining / left;
        else if (nd->sh->skewed && i != big)
            b = 1 + (uint32_t)(mix64(h ^ ck) % (most < 8 ? most : 8));
        else if (nd->sh->skewed) /* leave up to 8 for each later small child */
            b = remaining > 8 * (left - 1) ? remaining - 8 * (left - 1) : 1;
        else
            b = 1 + (uint32_t)(mix64(h ^ ck) % most);
        if (b > most) /* every later child needs >= 1 */
            b = most;
        remaining -= b;
        kids[i] = (struct node){.sh = nd->sh, .key = ck, .budget = b, .depth = nd->depth + 1};
    }
}

static bool use_join(const struct node *nd, uint64_t h, unsigned k)
{
    return k == 2 && !nd->sh->mixed && ((h >> 24) & 1);
}

static enum child_mode child_mode(const struct node *kid)
{
    if (!kid->sh->mixed)
        return BY_SPAWN;
    return (mix64(kid->key ^ 0x51) % 3 == 1) ? BY_FUTURE : BY_SPAWN;
}

static int node_task(weft_ctx *ctx, void *arg, void **result);

/* A node's status is the work's own status: a call that reports a failed
 * child, future or join with WEFT_ETASK is replaced at once by the status
 * behind it (weft_task_status() is per thread and the next WEFT_ETASK
 * replaces it). */
static int own_status(int rc)
{
    return rc == WEFT_ETASK ? weft_task_status() : rc;
}

/* Whether the parent syncs its children one by one with weft_sync_take,
 * newest first, running the private ones itself, instead of weft_sync.
 * Invisible to the oracle: the status of the most recently spawned failing
 * child wins either way. */
static bool takes_back(uint64_t h)
{
    return (h >> 33) & 1;
}

/* Sync g's children by weft_sync_take, newest first: one call per spawned
 * child (spawned[i], kids[0..k)), then WEFT_EOF. A private child comes back
 * with its argument and runs here (ran[i] marks it); any other is synced
 * and hands back its result, or fails. Returns the status of the newest
 * failing child, as own_status gives it, else 0. */
static int take_and_run(weft_ctx *ctx, weft_group *g, struct node *kids, unsigned k,
                        const bool *spawned, bool *ran)
{
    int newest = 0;
    for (unsigned i = k; i-- > 0;) {
        if (!spawned[i])
            continue;
        void *v = NULL;
        int r = weft_sync_take(g, &v), st;
        if (r > 0) {
            if (r != 1 || v != &kids[i])
                anomaly(); /* not the newest child left */
            ran[i] = true;
            void *res = NULL;
            st = node_task(ctx, &kids[i], &res);
            if (res != &kids[i])
                anomaly();
        } else if (r == WEFT_OK) {
            st = 0;
            if (v != &kids[i]) /* its result: the child's own record */
                anomaly();
        } else if (r == WEFT_ETASK) {
            st = weft_task_status();
        } else {
            anomaly();
            st = r;
        }
        if (newest == 0)
            newest = st;
    }
    if (weft_sync_take(g, NULL) != WEFT_EOF)
        anomaly(); /* a child left over */
    return newest;
}

static bool futures_first(uint64_t h)
{
    return (h >> 28) & 1;
}

static enum wait_style wait_style(uint64_t h)
{
    return (enum wait_style)((h >> 30) % 3);
}

static uint64_t combine_sum(uint64_t v, const struct node *kids, unsigned k)
{
    uint64_t s = v;
    for (unsigned i = 0; i < k; i++)
        s += rotl(kids[i].sum, i + 1) ^ (uint64_t)i;
    return s;
}

/* Status rules, mirrored by the serial oracle: weft_join gives a's status if
 * nonzero else b's; a group sync gives the most recently spawned failing
 * child's; futures are checked in index order after the group. A node that
 * saw no failing child returns its own status. */
static int combine_status(const struct node *nd, uint64_t h, unsigned k, const int *st,
                          const struct node *kids)
{
    if (use_join(nd, h, k))
        return st[0] != 0 ? st[0] : st[1];
    int g = 0, f = 0;
    for (unsigned i = 0; i < k; i++) {
        if (child_mode(&kids[i]) == BY_SPAWN) {
            if (st[i] != 0)
                g = st[i];
        } else if (f == 0) {
            f = st[i];
        }
    }
    return g != 0 ? g : f;
}

/* ---- serial oracle ---- */

static int serial_node(struct node *nd)
{
    uint64_t h = mix64(nd->key);
    unsigned k = node_fanout(nd, h);
    struct node kids[MAXK];
    int st[MAXK];
    if (nd->depth > deepest)
        deepest = nd->depth;
    plan_children(nd, h, k, kids);
    nd->count = 1;
    for (unsigned i = 0; i < k; i++) {
        st[i] = serial_node(&kids[i]);
        nd->count += kids[i].count;
    }
    nd->sum = combine_sum(node_value(nd, h), kids, k);
    int cs = k ? combine_status(nd, h, k, st, kids) : 0;
    return cs != 0 ? cs : node_own_status(h);
}

/* ---- parallel version ---- */

/* Wait for the futures of one node; returns the first nonzero status in
 * index order. */
static int wait_futures(weft_future **futs, const struct node *kids, unsigned k,
                        enum wait_style ws)
{
    weft_future *list[MAXK];
    unsigned n = 0;
    for (unsigned i = 0; i < k; i++)
        if (futs[i] != NULL)
            list[n++] = futs[i];
    if (n == 0)
        return 0;
    if (ws == WAIT_ALL) {
        bool done[MAXK];
        if (weft_wait(list, n, WEFT_FOREVER, WEFT_ALL_COMPLETED, done) != WEFT_OK)
            anomaly();
        for (unsigned i = 0; i < n; i++)
            if (!done[i])
                anomaly();
    }
    int first = 0;
    for (unsigned i = 0; i < k; i++) {
        if (futs[i] == NULL)
            continue;
        if (ws == WAIT_POLL) {
            /* One short timed wait, then the helping wait below. Timed
             * waits run no task: each blocked one holds a spare thread
             * (weft.h), so polling until done at every level of a deep
             * tree would need a thread per level, as with one thread per
             * task. */
            int rc = weft_future_wait(futs[i], 20000);
            if (rc != WEFT_OK && rc != WEFT_ETIMEDOUT)
                anomaly();
        }
        void *v = NULL;
        int rc = weft_future_result(futs[i], WEFT_FOREVER, &v);
        if (rc == WEFT_OK && v != &kids[i])
            anomaly();
        if (rc == WEFT_ETASK) {
            rc = weft_future_task_status(futs[i]);
            if (rc == 0 || rc != weft_task_status())
                anomaly();
        }
        if (first == 0)
            first = rc;
        weft_future_release(futs[i]);
        futs[i] = NULL;
    }
    return first;
}

/* A node with several children: a separate frame, so that chains of
 * single-child nodes keep small frames. */
static __attribute__((noinline)) int node_many(weft_ctx *ctx, struct node *nd, uint64_t h,
                                               unsigned k)
{
    struct node kids[MAXK];
    plan_children(nd, h, k, kids);
    int status;
    if (use_join(nd, h, k)) {
        status = own_status(weft_join(ctx, node_task, &kids[0], node_task, &kids[1]));
    } else {
        weft_group g;
        void *slots[MAXK];
        weft_future *futs[MAXK] = {0};
        bool spawned[MAXK] = {0};
        weft_group_init(&g, ctx);
        for (unsigned i = 0; i < k; i++) {
            int rc;
            if (child_mode(&kids[i]) == BY_SPAWN)
                spawned[i] = (rc = weft_spawn(&g, node_task, &kids[i], &slots[i])) == WEFT_OK;
            else
                rc = weft_submit(weft_ctx_pool(ctx), node_task, &kids[i], NULL, &futs[i]);
            if (rc != WEFT_OK) {
                anomaly();
                futs[i] = NULL;
                void *ignored;
                node_task(ctx, &kids[i], &ignored); /* stay exact */
            }
        }
        int fs = 0, gs;
        bool taken[MAXK] = {0};
        if (futures_first(h))
            fs = wait_futures(futs, kids, k, wait_style(h));
        if (takes_back(h))
            gs = take_and_run(ctx, &g, kids, k, spawned, taken);
        else
            gs = own_status(weft_sync(&g));
        if (!futures_first(h))
            fs = wait_futures(futs, kids, k, wait_style(h));
        for (unsigned i = 0; i < k; i++)
            if (spawned[i] && !taken[i] && slots[i] != &kids[i])
                anomaly();
        status = gs != 0 ? gs : fs;
    }
    nd->count = 1;
    for (unsigned i = 0; i < k; i++)
        nd->count += kids[i].count;
    nd->sum = combine_sum(node_value(nd, h), kids, k);
    return status;
}

static int node_one(weft_ctx *ctx, struct node *nd, uint64_t h)
{
    struct node kid;
    plan_children(nd, h, 1, &kid);
    int status;
    if (child_mode(&kid) == BY_SPAWN) {
        weft_group g;
        void *slot = NULL;
        weft_group_init(&g, ctx);
        bool taken = false;
        bool spawned = weft_spawn(&g, node_task, &kid, &slot) == WEFT_OK;
        if (!spawned)
            anomaly();
        if (takes_back(h))
            status = take_and_run(ctx, &g, &kid, 1, &spawned, &taken);
        else
            status = own_status(weft_sync(&g));
        if (!taken && slot != &kid)
            anomaly();
    } else {
        weft_future *f = NULL;
        if (weft_submit(weft_ctx_pool(ctx), node_task, &kid, NULL, &f) != WEFT_OK) {
            anomaly();
            return 0;
        }
        status = wait_futures(&f, &kid, 1, wait_style(h));
    }
    nd->count = 1 + kid.count;
    nd->sum = combine_sum(node_value(nd, h), &kid, 1);
    return status;
}

static int node_task(weft_ctx *ctx, void *arg, void **result)
{
    struct node *nd = arg;
    /* relaxed: a counter read after the root completed. */
    atomic_fetch_add_explicit(&nodes_run, 1, memory_order_relaxed);
    uint64_t h = mix64(nd->key);
    unsigned k = node_fanout(nd, h);
    int cs = 0;
    if (k == 0) {
        nd->count = 1;
        nd->sum = combine_sum(node_value(nd, h), NULL, 0);
    } else if (k == 1) {
        cs = node_one(ctx, nd, h);
    } else {
        cs = node_many(ctx, nd, h, k);
    }
    *result = nd;
    return cs != 0 ? cs : node_own_status(h);
}

/* One tree: run on pool p from this (external) thread and compare with the
 * serial traversal. Returns true if every oracle held. */
static bool tree_round(weft_pool *p, const struct shape *sh, uint64_t key, uint32_t budget,
                       bool count_nodes)
{
    struct node want = {.sh = sh, .key = key, .budget = budget};
    int want_status = serial_node(&want);
    struct node got = {.sh = sh, .key = key, .budget = budget};
    if (count_nodes)
        atomic_store_explicit(&nodes_run, 0, memory_order_relaxed);
    uint64_t anomalies_before = atomic_load_explicit(&anomalies, memory_order_relaxed);
    weft_future *f = NULL;
    int rc = weft_submit(p, node_task, &got, NULL, &f);
    if (rc != WEFT_OK) {
        fail("%s tree: submit failed: %s", sh->name, weft_strerror(rc));
        return false;
    }
    void *v = NULL;
    rc = weft_future_result(f, WEFT_FOREVER, &v);
    if (rc == WEFT_ETASK)
        rc = weft_future_task_status(f);
    weft_future_release(f);
    bool ok = true;
    if (rc != want_status || (rc == WEFT_OK && v != &got)) {
        fail("%s tree key %" PRIx64 " budget %u: status %d, serial %d", sh->name, key, budget,
             rc, want_status);
        ok = false;
    }
    if (got.count != want.count || got.count != budget || got.sum != want.sum) {
        fail("%s tree key %" PRIx64 " budget %u: count %" PRIu64 " sum %" PRIx64
             ", serial count %" PRIu64 " sum %" PRIx64,
             sh->name, key, budget, got.count, got.sum, want.count, want.sum);
        ok = false;
    }
    if (count_nodes) {
        uint64_t ran = atomic_load_explicit(&nodes_run, memory_order_relaxed);
        if (ran != want.count) {
            fail("%s tree key %" PRIx64 ": %" PRIu64 " node executions for %" PRIu64 " nodes",
                 sh->name, key, ran, want.count);
            ok = false;
        }
    }
    if (atomic_load_explicit(&anomalies, memory_order_relaxed) != anomalies_before) {
        fail("%s tree key %" PRIx64 ": wrong child results or unexpected API errors", sh->name,
             key);
        ok = false;
    }
    return ok;
}

struct tally {
    uint64_t passed, failed;
};

static void record(struct tally *t, bool ok)
{
    if (ok)
        t->passed++;
    else
        t->failed++;
}

static uint32_t round_budget(uint64_t r)
{
    /* Mostly large trees, sometimes tiny ones (1..16 nodes). */
    if (r % 8 == 0)
        return 1 + (uint32_t)((r >> 8) % 16);
    return MAX_BUDGET / 4 + (uint32_t)((r >> 8) % (MAX_BUDGET - MAX_BUDGET / 4));
}

static void tree_phase(struct tally *t, const struct shape *const *shapes, size_t nshapes,
                       uint64_t seed, unsigned rounds)
{
    for (unsigned workers = 1; workers <= 2; workers++) {
        weft_pool *p = make_pool(workers);
        int64_t t0 = wt_now_ns();
        uint64_t nodes = 0;
        deepest = 0;
        for (unsigned r = 0; r < rounds; r++) {
            for (size_t s = 0; s < nshapes; s++) {
                uint64_t key = mix64(seed ^ mix64(((uint64_t)workers << 32) | (r << 4) | s));
                uint32_t budget = round_budget(mix64(key));
                record(t, tree_round(p, shapes[s], key, budget, true));
                nodes += budget;
            }
        }
        weft_worker_stats st[2];
        int nw = weft_pool_stats(p, st, 2);
        uint64_t steals = 0;
        for (int i = 0; i < nw && i < 2; i++)
            steals += st[i].steals;
        weft_pool_destroy(p);
        printf("  %s", shapes[0]->name);
        for (size_t s = 1; s < nshapes; s++)
            printf(" + %s", shapes[s]->name);
        printf(" on %u worker%s: %u rounds, %" PRIu64 " nodes, depth <= %u, %" PRIu64
               " steals, %.2f s\n",
               workers, workers > 1 ? "s" : "", rounds, nodes, deepest, steals,
               (double)(wt_now_ns() - t0) / 1e9);
        fflush(stdout);
    }
}

/* ---- phase 3: concurrent loops from two external threads ---------------------- */

struct loop_thread {
    pthread_t thread, self; /* self: set by the thread itself */
    weft_pool *pool;
    uint64_t seed;
    unsigned rounds;
    _Atomic unsigned *hits; /* LOOP_MAX_N counters */
    _Atomic uint64_t bad;   /* chunks outside the range */
    size_t begin, end;      /* the loop in flight */
    bool nested;            /* bodies run an inner loop per chunk */
    bool submit;            /* the first chunk submits a future (queued) */
    weft_future *queued;
    _Atomic uint64_t on_caller; /* chunks run on the calling thread */
    uint64_t passed, failed;
};

struct inner {
    struct loop_thread *lt;
    size_t lo, hi;
};

static int inner_body(weft_ctx *ctx, size_t lo, size_t hi, void *ud)
{
    (void)ctx;
    struct inner *in = ud;
    struct loop_thread *lt = in->lt;
    if (lo >= hi || lo < in->lo || hi > in->hi) {
        /* relaxed: counters read after the loop returned. */
        atomic_fetch_add_explicit(&lt->bad, 1, memory_order_relaxed);
        return 0;
    }
    for (size_t i = lo; i < hi; i++)
        atomic_fetch_add_explicit(&lt->hits[i - lt->begin], 1, memory_order_relaxed);
    return 0;
}

static int outer_body(weft_ctx *ctx, size_t lo, size_t hi, void *ud)
{
    struct loop_thread *lt = ud;
    if (lo >= hi || lo < lt->begin || hi > lt->end) {
        atomic_fetch_add_explicit(&lt->bad, 1, memory_order_relaxed);
        return 0;
    }
    if (pthread_equal(pthread_self(), lt->self))
        atomic_fetch_add_explicit(&lt->on_caller, 1, memory_order_relaxed);
    if (lt->submit && lo == lt->begin &&
        weft_submit(weft_ctx_pool(ctx), wt_value_task, (void *)(uintptr_t)lo, NULL,
                    &lt->queued) != WEFT_OK)
        atomic_fetch_add_explicit(&lt->bad, 1, memory_order_relaxed);
    if (lt->nested && hi - lo > 1) {
        struct inner in = {.lt = lt, .lo = lo, .hi = hi};
        return weft_parallel_for(weft_ctx_pool(ctx), inner_body, &in, lo, hi, 1 + (hi - lo) / 5);
    }
    for (size_t i = lo; i < hi; i++)
        atomic_fetch_add_explicit(&lt->hits[i - lt->begin], 1, memory_order_relaxed);
    return 0;
}

static int sum_fold(weft_ctx *ctx, size_t lo, size_t hi, void *acc, void *ud)
{
    (void)ctx;
    (void)ud;
    uint64_t s = 0;
    for (size_t i = lo; i < hi; i++)
        s += (uint64_t)i * i;
    *(uint64_t *)acc += s;
    return 0;
}

static void sum_combine(void *into, const void *from, void *ud)
{
    (void)ud;
    *(uint64_t *)into += *(const uint64_t *)from;
}

static uint64_t sum_squares_below(uint64_t n) /* 0^2 + ... + (n-1)^2 */
{
    return n == 0 ? 0 : (n - 1) * n * (2 * n - 1) / 6;
}

static bool loop_round(struct loop_thread *lt, uint64_t r)
{
    size_t n = (r & 15) == 0 ? (size_t)(r >> 8) % 3 : 1 + (size_t)((r >> 8) % LOOP_MAX_N);
    size_t begin = (size_t)((r >> 32) % 5000);
    size_t grain;
    switch ((r >> 4) % 4) {
    case 0: grain = 0; break;
    case 1: grain = 1 + (size_t)((r >> 40) % 4); break;
    case 2: grain = 1 + (size_t)((r >> 40) % (n + 1)); break;
    default: grain = n + 1 + (size_t)((r >> 40) % 100); break;
    }
    lt->begin = begin;
    lt->end = begin + n;
    lt->nested = ((r >> 6) & 3) == 0;
    lt->submit = n > 0 && ((r >> 12) & 7) == 0;
    lt->queued = NULL;
    if (((r >> 15) & 3) == 0) /* let the workers park: the caller borrows one */
        wt_sleep_us(100 + (long)((r >> 20) % 400));
    for (size_t i = 0; i < n; i++)
        atomic_store_explicit(&lt->hits[i], 0, memory_order_relaxed);
    atomic_store_explicit(&lt->bad, 0, memory_order_relaxed);
    bool ok = true;
    int rc = weft_parallel_for(lt->pool, outer_body, lt, begin, begin + n, grain);
    if (rc != WEFT_OK) {
        fail("parallel_for [%zu, %zu) grain %zu: %s", begin, begin + n, grain, weft_strerror(rc));
        ok = false;
    }
    for (size_t i = 0; i < n && ok; i++) {
        unsigned h = atomic_load_explicit(&lt->hits[i], memory_order_relaxed);
        if (h != 1) {
            fail("parallel_for [%zu, %zu) grain %zu nested %d: index %zu covered %u times",
                 begin, begin + n, grain, lt->nested, begin + i, h);
            ok = false;
        }
    }
    if (atomic_load_explicit(&lt->bad, memory_order_relaxed) != 0) {
        fail("parallel_for [%zu, %zu) grain %zu: chunks outside the range", begin, begin + n,
             grain);
        ok = false;
    }
    if (lt->queued != NULL) {
        void *v = NULL;
        rc = weft_future_result(lt->queued, 10 * 1000000000ll, &v);
        if (rc != WEFT_OK || (uintptr_t)v != begin) {
            fail("parallel_for [%zu, %zu): the future its first chunk submitted: %s",
                 begin, begin + n, weft_strerror(rc));
            ok = false;
        }
        weft_future_release(lt->queued);
    } else if (lt->submit) {
        fail("parallel_for [%zu, %zu): its first chunk submitted no future", begin, begin + n);
        ok = false;
    }
    uint64_t sum = 0;
    rc = weft_parallel_reduce(lt->pool, sum_fold, sum_combine, NULL, begin, begin + n, grain,
                              &sum, sizeof(sum));
    uint64_t want = sum_squares_below(begin + n) - sum_squares_below(begin);
    if (rc != WEFT_OK || sum != want) {
        fail("parallel_reduce sum [%zu, %zu) grain %zu: %s, %" PRIu64 " want %" PRIu64, begin,
             begin + n, grain, weft_strerror(rc), sum, want);
        ok = false;
    }
    struct wt_seq s = {0};
    rc = weft_parallel_reduce(lt->pool, wt_seq_fold, wt_seq_combine, NULL, begin, begin + n,
                              grain, &s, sizeof(s));
    bool seq_ok = n == 0 ? s.count == 0
                         : (s.ok && s.first == begin && s.last == begin + n - 1 && s.count == n);
    if (rc != WEFT_OK || !seq_ok) {
        fail("parallel_reduce concat [%zu, %zu) grain %zu: %s, out of order", begin, begin + n,
             grain, weft_strerror(rc));
        ok = false;
    }
    return ok;
}

static void *loop_thread_main(void *arg)
{
    struct loop_thread *lt = arg;
    lt->self = pthread_self();
    for (unsigned i = 0; i < lt->rounds; i++) {
        if (loop_round(lt, mix64(lt->seed + i)))
            lt->passed++;
        else
            lt->failed++;
    }
    return NULL;
}

static void loop_phase(struct tally *t, uint64_t seed, unsigned rounds)
{
    weft_pool *p = make_pool(2);
    int64_t t0 = wt_now_ns();
    struct loop_thread lts[2];
    for (unsigned i = 0; i < 2; i++) {
        lts[i] = (struct loop_thread){.pool = p, .seed = mix64(seed ^ (0xF00Du + i)),
                                      .rounds = rounds * 8};
        lts[i].hits = calloc(LOOP_MAX_N, sizeof(*lts[i].hits));
        if (lts[i].hits == NULL || pthread_create(&lts[i].thread, NULL, loop_thread_main,
                                                  &lts[i]) != 0) {
            fprintf(stderr, "FAIL: setup of loop thread %u\n", i);
            printf("0 passed, 1 failed\n");
            exit(1);
        }
    }
    /* Meanwhile, trees on the same pool from this thread (the loop threads
     * never run node_task, so the node counter stays exact). */
    unsigned trees = 0;
    for (unsigned r = 0; r < rounds; r++) {
        const struct shape *sh = (r & 1) ? &MIXED_WIDE : &WIDE;
        uint64_t key = mix64(seed ^ 0xC0FFEEull ^ r);
        record(t, tree_round(p, sh, key, 1 + (uint32_t)(mix64(key) % (MAX_BUDGET / 4)), true));
        trees++;
    }
    uint64_t on_caller = 0;
    for (unsigned i = 0; i < 2; i++) {
        pthread_join(lts[i].thread, NULL);
        t->passed += lts[i].passed;
        t->failed += lts[i].failed;
        on_caller += atomic_load_explicit(&lts[i].on_caller, memory_order_relaxed);
        free(lts[i].hits);
    }
    weft_pool_destroy(p);
    if (on_caller == 0) {
        fail("loops: no chunk ran on its calling thread (no parked worker borrowed)");
        t->failed++;
    }
    printf("  loops from 2 threads: %u rounds each, plus %u trees, %" PRIu64
           " chunks on the calling threads, %.2f s\n",
           rounds * 8, trees, on_caller, (double)(wt_now_ns() - t0) / 1e9);
    fflush(stdout);
}

/* ---- main ---------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    unsigned rounds = DEFAULT_ROUNDS;
    const char *env = getenv("WEFT_STRESS_ITERS");
    if (argc > 1)
        rounds = (unsigned)parse_u64(argv[1], "rounds");
    else if (env != NULL && *env != '\0')
        rounds = (unsigned)parse_u64(env, "WEFT_STRESS_ITERS");
    uint64_t seed;
    env = getenv("WEFT_STRESS_SEED");
    if (env != NULL && *env != '\0')
        seed = parse_u64(env, "WEFT_STRESS_SEED");
    else
        seed = (uint64_t)wt_now_ns() ^ ((uint64_t)getpid() << 32);
    signal(SIGALRM, wt_on_watchdog);
    alarm(WATCHDOG_S);
#ifdef CRASH_HANDLER
    install_crash_handler();
#endif
    printf("forkjoin_stress: rounds=%u max_budget=%u deep_max_depth=%u seed=%" PRIu64
           " (replay with WEFT_STRESS_SEED)\n",
           rounds, MAX_BUDGET, DEEP_MAX_DEPTH, seed);
    fflush(stdout);

    int64_t t0 = wt_now_ns();
    struct tally t = {0};
    static const struct shape *const trees[] = {&WIDE, &DEEP};
    static const struct shape *const mixed[] = {&MIXED_WIDE, &MIXED_DEEP};
    printf("phase 1: spawn/sync/join trees\n");
    tree_phase(&t, trees, 2, seed, rounds);
    printf("phase 2: trees mixing spawn with nested future waits\n");
    tree_phase(&t, mixed, 2, mix64(seed ^ 2), rounds);
    printf("phase 3: concurrent parallel loops\n");
    loop_phase(&t, mix64(seed ^ 3), rounds);

    /* relaxed: every thread that could fail was joined. */
    uint64_t reported = atomic_load_explicit(&failures, memory_order_relaxed);
    if (reported != 0 && t.failed == 0)
        t.failed = 1; /* never report success after a FAIL line */
    printf("total %.2f s\n", (double)(wt_now_ns() - t0) / 1e9);
    printf("%" PRIu64 " passed, %" PRIu64 " failed\n", t.passed, t.failed);
    return t.failed == 0 ? 0 : 1;
}
