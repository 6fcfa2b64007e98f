/* Stress test for wait sets (runtime/waitset.c): weft_wait and
 * weft_as_completed while futures complete concurrently.
 *
 * Shape
 *   - Rounds. Each round makes N distinct futures (1..MAX_DISTINCT): tasks on
 *     a 2-worker pool (tiny random work, some fail) and promises. The array
 *     handed to the wait functions repeats some of them (duplicates).
 *   - Promises are completed by COMPLETERS helper threads (set_result,
 *     set_error or cancel, after a random pause); the test thread cancels
 *     random tasks and promises itself. Completions start before and keep
 *     going during the wait, so links register on done, finishing and
 *     pending futures alike.
 *   - Modes (random per round): weft_wait with each condition and no
 *     timeout; weft_wait with a tiny random timeout; as_completed to EOF;
 *     as_completed with a tiny timeout; as_completed ended early. The
 *     blocking modes also run inside a task on a worker (helping path).
 *   - Orphans: in the timed and ended-early modes some promises are never
 *     completed and are released at the end of the round, so their links are
 *     discarded by the future's free (listener fired with NULL).
 *
 * Oracles
 *   - Exactly once: as_completed yields every distinct future once, at its
 *     first index, and only when it is done; EOF comes after all of them.
 *   - weft_wait: done[i] implies fs[i] is done; the return code agrees with
 *     the condition evaluated on done[] (WEFT_OK iff it holds).
 *   - Publication: a task writes its result cell with plain stores; the test
 *     thread reads it after seeing the future done (TSan checks the edge).
 *   - No hang: a watchdog (alarm) fails the run.
 *
 * Usage: waitset_stress [rounds]; env WEFT_STRESS_ITERS (rounds),
 * WEFT_STRESS_SEED, WEFT_STRESS_SECONDS (time budget, default 10). */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "weft.h"
#include "weft_test.h"

#define MAX_DISTINCT 40
#define MAX_FS (MAX_DISTINCT * 2)
#define COMPLETERS 2
#define DEFAULT_ROUNDS 200000
#define WATCHDOG_SLACK_S 90

/* ---- reporting ------------------------------------------------------------ */

static atomic_int failures;

/* Coverage counters, printed at the end (relaxed: statistics only). */
static atomic_long st_mode[5] /* by enum mode */, st_on_worker, st_timeouts, st_yields, st_orphans;

static void bump(atomic_long *c)
{
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static void fail(const char *fmt, ...)
{
    if (atomic_fetch_add(&failures, 1) < 10) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "waitset_stress: ");
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
    }
}

#define CHECK(cond, ...)          \
    do {                          \
        if (!(cond))              \
            fail(__VA_ARGS__);    \
    } while (0)

static void on_alarm(int sig)
{
    static const char msg[] = "waitset_stress: watchdog fired (hang)\n0 passed, 1 failed\n";
    (void)sig;
    (void)!write(2, msg, sizeof(msg) - 1);
    _exit(1);
}

/* ---- random numbers and time ------------------------------------------------ */

/* ---- futures of a round ------------------------------------------------------- */

enum kind { TASK, PROMISE, ORPHAN };

struct cell {         /* a task's input and its plainly written output */
    int64_t in;
    int64_t out;
    unsigned spin_ns;
    bool fails;
};

struct round {
    size_t n;                       /* distinct futures */
    weft_future *d[MAX_DISTINCT];   /* distinct futures */
    enum kind kind[MAX_DISTINCT];
    struct cell cell[MAX_DISTINCT];
    size_t m;                       /* positions in fs */
    weft_future *fs[MAX_FS];
    size_t first[MAX_FS];           /* first position of fs[i]'s future */
    size_t which[MAX_FS];           /* fs[i] == d[which[i]] */
};

static int cell_task(weft_ctx *ctx, void *arg, void **result)
{
    struct cell *c = arg;
    (void)ctx;
    wt_spin_ns(c->spin_ns);
    c->out = c->in * 3; /* plain store, published by the completion */
    *result = c;
    return c->fails ? 17 : 0;
}

/* ---- completer threads ---------------------------------------------------------- */

struct job {
    weft_future *f; /* a reference owned by the job */
    unsigned action;
    unsigned pause_ns;
};

/* The job queue is test scaffolding, not the code under test: a mutex and
 * a condition variable keep it simple and obviously correct. */
static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job jobs[MAX_DISTINCT];
    int njobs;    /* jobs of the current round */
    int next;     /* next job to claim */
    int finished; /* jobs completed */
    bool quit;
} cq = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void run_job(struct job *j)
{
    wt_spin_ns(j->pause_ns);
    int rc;
    if (j->action == 0)
        rc = weft_promise_set_result(j->f, j, NULL);
    else if (j->action == 1)
        rc = weft_promise_set_error(j->f, 23, j, NULL);
    else
        rc = weft_future_cancel(j->f) == 1 ? WEFT_OK : WEFT_EALREADY;
    /* The test thread may have cancelled it first. */
    CHECK(rc == WEFT_OK || rc == WEFT_EALREADY, "completer: unexpected status %d", rc);
    weft_future_release(j->f);
}

static void *completer_main(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&cq.mu);
    for (;;) {
        while (!cq.quit && cq.next >= cq.njobs)
            pthread_cond_wait(&cq.cv, &cq.mu);
        if (cq.quit)
            break;
        struct job j = cq.jobs[cq.next++];
        pthread_mutex_unlock(&cq.mu);
        run_job(&j);
        pthread_mutex_lock(&cq.mu);
        cq.finished++;
        pthread_cond_broadcast(&cq.cv);
    }
    pthread_mutex_unlock(&cq.mu);
    return NULL;
}

static void publish_jobs(struct round *r, uint64_t *rng)
{
    pthread_mutex_lock(&cq.mu);
    int n = 0;
    for (size_t k = 0; k < r->n; k++) {
        if (r->kind[k] != PROMISE)
            continue;
        cq.jobs[n].f = weft_future_ref(r->d[k]);
        cq.jobs[n].action = wt_rnd(rng, 3);
        cq.jobs[n].pause_ns = wt_rnd(rng, 4) == 0 ? wt_rnd(rng, 200000) : wt_rnd(rng, 2000);
        n++;
    }
    cq.njobs = n;
    cq.next = 0;
    cq.finished = 0;
    pthread_cond_broadcast(&cq.cv);
    pthread_mutex_unlock(&cq.mu);
}

static void await_jobs(void)
{
    pthread_mutex_lock(&cq.mu);
    while (cq.finished < cq.njobs)
        pthread_cond_wait(&cq.cv, &cq.mu);
    pthread_mutex_unlock(&cq.mu);
}

static void stop_completers(void)
{
    pthread_mutex_lock(&cq.mu);
    cq.quit = true;
    pthread_cond_broadcast(&cq.cv);
    pthread_mutex_unlock(&cq.mu);
}

/* ---- building a round ------------------------------------------------------------ */

static void make_round(struct round *r, weft_pool *pool, bool orphans, uint64_t *rng)
{
    memset(r, 0, sizeof(*r));
    r->n = 1 + wt_rnd(rng, MAX_DISTINCT);
    for (size_t k = 0; k < r->n; k++) {
        unsigned t = wt_rnd(rng, 10);
        r->kind[k] = t < 5 ? TASK : (orphans && t == 9) ? ORPHAN : PROMISE;
        if (r->kind[k] == ORPHAN)
            bump(&st_orphans);
        if (r->kind[k] == TASK) {
            struct cell *c = &r->cell[k];
            c->in = (int64_t)k + 1;
            c->spin_ns = wt_rnd(rng, 4) == 0 ? wt_rnd(rng, 100000) : wt_rnd(rng, 3000);
            c->fails = wt_rnd(rng, 5) == 0;
            if (weft_submit(pool, cell_task, c, NULL, &r->d[k]) != WEFT_OK) {
                fail("submit failed");
                (void)weft_promise_create(&r->d[k]);
                (void)weft_future_cancel(r->d[k]);
            }
        } else if (weft_promise_create(&r->d[k]) != WEFT_OK) {
            fail("promise_create failed");
            exit(1);
        }
    }
    /* Positions: each distinct future once, in random order, plus duplicates. */
    r->m = r->n + wt_rnd(rng, (unsigned)r->n / 2 + 1);
    for (size_t i = 0; i < r->m; i++)
        r->which[i] = i < r->n ? i : wt_rnd(rng, (unsigned)r->n);
    for (size_t i = r->m - 1; i > 0; i--) {
        size_t j = wt_rnd(rng, (unsigned)i + 1), t = r->which[i];
        r->which[i] = r->which[j];
        r->which[j] = t;
    }
    size_t seen_at[MAX_DISTINCT];
    for (size_t k = 0; k < r->n; k++)
        seen_at[k] = SIZE_MAX;
    for (size_t i = 0; i < r->m; i++) {
        size_t k = r->which[i];
        r->fs[i] = r->d[k];
        if (seen_at[k] == SIZE_MAX)
            seen_at[k] = i;
        r->first[i] = seen_at[k];
    }
}

/* The test thread's own cancels, racing with the workers and completers. */
static void random_cancels(struct round *r, uint64_t *rng)
{
    for (size_t k = 0; k < r->n; k++)
        if (r->kind[k] != ORPHAN && wt_rnd(rng, 8) == 0)
            (void)weft_future_cancel(r->d[k]);
}

static bool is_failure(weft_future *f)
{
    return weft_future_state(f) == WEFT_FINISHED && weft_future_result(f, 0, NULL) != WEFT_OK;
}

/* ---- oracles ------------------------------------------------------------------------ */

static bool condition_on(struct round *r, const bool *done, weft_return_when when)
{
    size_t ndone = 0;
    bool failed = false;
    for (size_t i = 0; i < r->m; i++) {
        ndone += done[i];
        failed = failed || (done[i] && is_failure(r->fs[i]));
    }
    if (when == WEFT_FIRST_COMPLETED)
        return ndone > 0;
    if (when == WEFT_FIRST_EXCEPTION)
        return failed || ndone == r->m;
    return ndone == r->m;
}

static void check_wait(struct round *r, weft_return_when when, int64_t timeout_ns)
{
    bool done[MAX_FS];
    int rc = weft_wait(r->fs, r->m, timeout_ns, when, done);
    CHECK(rc == WEFT_OK || (rc == WEFT_ETIMEDOUT && timeout_ns >= 0),
          "weft_wait(when=%d, timeout=%" PRId64 ") returned %d", (int)when, timeout_ns, rc);
    for (size_t i = 0; i < r->m; i++)
        CHECK(!done[i] || weft_future_done(r->fs[i]), "done[%zu] set on a future not done", i);
    if (rc == WEFT_ETIMEDOUT)
        bump(&st_timeouts);
    bool holds = condition_on(r, done, when);
    CHECK(holds == (rc == WEFT_OK), "weft_wait(when=%d) returned %d but the condition %s", (int)when,
          rc, holds ? "holds" : "does not hold");
}

/* Iterate; returns how many were yielded. limit: stop after that many. */
static size_t check_iterate(struct round *r, int64_t timeout_ns, size_t limit)
{
    weft_as_completed *it;
    if (weft_as_completed_begin(&it, r->fs, r->m, timeout_ns) != WEFT_OK) {
        fail("as_completed_begin failed");
        return 0;
    }
    int count[MAX_DISTINCT] = {0};
    size_t yielded = 0;
    int rc = WEFT_OK;
    while (yielded < limit) {
        weft_future *f = NULL;
        size_t index = SIZE_MAX;
        rc = weft_as_completed_next(it, &f, &index);
        if (rc != WEFT_OK)
            break;
        CHECK(index < r->m && r->fs[index] == f, "yielded future does not match its index");
        if (index >= r->m)
            break;
        CHECK(r->first[index] == index, "index %zu is not the first position", index);
        CHECK(weft_future_done(f), "yielded a future that is not done");
        count[r->which[index]]++;
        yielded++;
        bump(&st_yields);
    }
    for (size_t k = 0; k < r->n; k++)
        CHECK(count[k] <= 1, "future %zu yielded %d times", k, count[k]);
    if (rc == WEFT_EOF)
        CHECK(yielded == r->n, "EOF after %zu of %zu futures", yielded, r->n);
    else
        CHECK(rc == WEFT_OK || (rc == WEFT_ETIMEDOUT && timeout_ns >= 0),
              "as_completed_next returned %d", rc);
    if (rc == WEFT_ETIMEDOUT)
        bump(&st_timeouts);
    weft_as_completed_end(it);
    return yielded;
}

/* ---- running a round, possibly on a worker ------------------------------------------ */

enum mode { WAIT_FOREVER, WAIT_TIMED, ITER_FOREVER, ITER_TIMED, ITER_EARLY, NMODES };

struct plan {
    struct round *r;
    enum mode mode;
    weft_return_when when;
    int64_t timeout_ns;
    size_t limit;
};

static void run_plan(struct plan *p)
{
    bump(&st_mode[p->mode]);
    switch (p->mode) {
    case WAIT_FOREVER:
    case WAIT_TIMED:
        check_wait(p->r, p->when, p->timeout_ns);
        break;
    case ITER_FOREVER:
    case ITER_TIMED:
    case ITER_EARLY:
        (void)check_iterate(p->r, p->timeout_ns, p->limit);
        break;
    default:
        break;
    }
}

static int plan_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)ctx;
    (void)result;
    run_plan(arg);
    return 0;
}

static void finish_round(struct round *r)
{
    /* Every non-orphan completes: wait for them, then check the outcomes. */
    weft_future *live[MAX_DISTINCT];
    size_t nlive = 0;
    for (size_t k = 0; k < r->n; k++)
        if (r->kind[k] != ORPHAN)
            live[nlive++] = r->d[k];
    CHECK(weft_wait(live, nlive, WEFT_FOREVER, WEFT_ALL_COMPLETED, NULL) == WEFT_OK,
          "final wait failed");
    await_jobs();
    for (size_t k = 0; k < r->n; k++) {
        void *v = NULL;
        int rc = weft_future_result(r->d[k], 0, &v);
        if (r->kind[k] == TASK && rc != WEFT_ECANCELED) {
            struct cell *c = &r->cell[k];
            CHECK(rc == (c->fails ? WEFT_ETASK : 0) && weft_future_task_status(r->d[k]) ==
                                                          (c->fails ? 17 : 0),
                  "task status %d", rc);
            CHECK(c->out == c->in * 3, "task output not visible");
            CHECK(rc != 0 || v == c, "task value wrong");
        }
        weft_future_release(r->d[k]);
    }
}

static void one_round(weft_pool *pool, uint64_t *rng)
{
    static struct round r;
    struct plan p = {.r = &r, .mode = (enum mode)wt_rnd(rng, NMODES)};
    p.when = (weft_return_when)wt_rnd(rng, 3);
    bool timed = p.mode == WAIT_TIMED || p.mode == ITER_TIMED || p.mode == ITER_EARLY;
    p.timeout_ns = timed ? (int64_t)wt_rnd(rng, 2000000) : WEFT_FOREVER;
    p.limit = p.mode == ITER_EARLY ? wt_rnd(rng, 4) : SIZE_MAX;
    make_round(&r, pool, timed, rng);
    publish_jobs(&r, rng);
    random_cancels(&r, rng);
    if (!timed && wt_rnd(rng, 4) == 0) {
        weft_future *f;
        if (weft_submit(pool, plan_task, &p, NULL, &f) != WEFT_OK) {
            fail("submit of the plan failed");
            return;
        }
        bump(&st_on_worker);
        CHECK(weft_future_wait(f, WEFT_FOREVER) == WEFT_OK, "plan task wait failed");
        weft_future_release(f);
    } else {
        run_plan(&p);
    }
    finish_round(&r);
}

/* ---- main ------------------------------------------------------------------------------ */

int main(int argc, char **argv)
{
    long rounds = (long)wt_stress_iters(argc, argv, DEFAULT_ROUNDS);
    long seconds = wt_stress_seconds(10);
    uint64_t seed = wt_stress_seed();
    uint64_t rng = seed * 0x9E3779B97F4A7C15ull + 1;
    printf("waitset_stress: seed=%" PRIu64 " rounds<=%ld budget=%lds\n", seed, rounds, seconds);
    fflush(stdout);
    signal(SIGALRM, on_alarm);
    alarm((unsigned)(seconds + WATCHDOG_SLACK_S));

    weft_pool *pool;
    if (wt_pool_new(&pool, 2) != WEFT_OK) {
        printf("0 passed, 1 failed\n");
        return 1;
    }
    pthread_t th[COMPLETERS];
    for (int i = 0; i < COMPLETERS; i++)
        pthread_create(&th[i], NULL, completer_main, NULL);

    int64_t end = wt_now_ns() + (int64_t)seconds * 1000000000;
    long done_rounds = 0;
    while (done_rounds < rounds && wt_now_ns() < end && atomic_load(&failures) == 0) {
        one_round(pool, &rng);
        done_rounds++;
    }

    stop_completers();
    for (int i = 0; i < COMPLETERS; i++)
        pthread_join(th[i], NULL);
    CHECK(weft_pool_destroy(pool) == WEFT_OK, "pool destroy failed");
    alarm(0);
    int nf = atomic_load(&failures);
    printf("waitset_stress: %ld rounds (wait %ld, timed wait %ld, iterate %ld, timed iterate %ld, "
           "ended early %ld; %ld on a worker), %ld timeouts, %ld yields, %ld orphans, "
           "%d failures\n",
           done_rounds, atomic_load(&st_mode[0]), atomic_load(&st_mode[1]), atomic_load(&st_mode[2]),
           atomic_load(&st_mode[3]), atomic_load(&st_mode[4]), atomic_load(&st_on_worker),
           atomic_load(&st_timeouts), atomic_load(&st_yields), atomic_load(&st_orphans), nf);
    printf("%d passed, %d failed\n", nf == 0, nf != 0);
    return nf == 0 ? 0 : 1;
}
