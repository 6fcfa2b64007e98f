/* Stress test for futures and promises (runtime/future.c, wait.c) under
 * random mixes of operations from several threads.
 *
 * Shape: rounds. In each round every client thread (3) submits B tasks to a
 * 2-worker pool and shares them through a table; every client holds its own
 * reference to every future. After a barrier the clients run random
 * operations on random futures of the table: cancel, request_cancel, timed
 * waits with small random timeouts, waits without timeout, result, state
 * queries, add_done_callback, ref + release, and early release of their own
 * reference (only non-owners release early). Then each owner waits for its
 * futures, checks the final state and releases; the others release what they
 * still hold, in random order. Tasks run for random tiny durations and some
 * fail with a status. Alongside, promises are completed concurrently by two
 * clients while the third cancels some of them and adds callbacks.
 *
 * Oracles (per future, checked at the end of each round)
 *   - every callback ran exactly once; callbacks registered by one client
 *     (not run immediately) ran in the order that client added them;
 *   - every accepted task either ran (ran == 1) or its future is cancelled,
 *     never both, never neither; a cancel() that returned 1 means cancelled,
 *     one that returned 0 means finished;
 *   - arg_dtor ran exactly once; result_dtor (set by the task) ran exactly
 *     once for tasks that ran, so the last release happened exactly once;
 *   - states are consistent: done() <=> FINISHED or CANCELLED, phases only
 *     move forward, and result() after a successful wait never times out and
 *     returns the task's value or status;
 *   - a promise completed by two setters (and maybe a canceller) has exactly
 *     one winner; the losers get WEFT_EALREADY (or cancel() returns 0) and
 *     their value is freed at once, the winner's when the promise is freed.
 *
 * Usage: future_stress [rounds]; env WEFT_STRESS_ITERS (rounds) and
 * WEFT_STRESS_SEED. Prints the seed and ends with "N passed, M failed". */
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


/* Defaults keep a run near 10 s on 2 vCPUs (sanitizers are slower). */
#if defined(WT_TSAN)
#define DEFAULT_ROUNDS 2500u
#elif defined(WT_ASAN)
#define DEFAULT_ROUNDS 4000u
#else
#define DEFAULT_ROUNDS 5000u
#endif

#define NCLIENTS 3
#define B 16                      /* tasks per client per round */
#define NSLOTS (NCLIENTS * B)
#define OPS 96                    /* random operations per client per round */
#define NPROMISES 8               /* raced promises per round */
#define TASK_STATUS 17            /* status of failing tasks */
#define WAIT_BOUND_NS 10000000000ll /* a "forever" wait longer than this is lost */
#define WATCHDOG_S 110u
#define MAX_REPORTS 20

/* ---- reporting ------------------------------------------------------------------ */

static struct wt_checks checks;
static atomic_uint cur_round;
/* Coverage counters, printed at the end. */
static atomic_ulong n_ran, n_cancelled, n_cb_reg, n_cb_now, n_timeouts, n_prom_cancel;

static void fail(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    bool report = wt_check_failed(&checks, MAX_REPORTS, buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (report)
        fprintf(stderr, "FAIL (round %u): %s\n", atomic_load(&cur_round), buf);
}

#define CHECK(cond, ...) WT_CHECK(&checks, fail, cond, __VA_ARGS__)

static void on_alarm(int sig)
{
    static const char msg[] = "future_stress: watchdog expired (hang or lost wake-up)\n"
                              "0 passed, 1 failed\n";
    (void)!write(2, msg, sizeof(msg) - 1);
    _exit(3);
}

/* ---- helpers -------------------------------------------------------------------- */

/* ---- per-future records ----------------------------------------------------------- */

struct rec {
    unsigned id;
    int kind;              /* 0 instant, 1 spin, 2 sleep */
    int fail;              /* task returns TASK_STATUS */
    long dur_ns;
    atomic_int ran;
    atomic_int arg_dtor;
    atomic_int res_dtor;
    atomic_int cb_expected; /* incremented before each add_done_callback */
    atomic_int cb_fired;
    atomic_int cancel_true;
    atomic_int cancel_false;
    atomic_int seen_phase;  /* highest phase observed (forward only) */
    atomic_int last_reg_seq[NCLIENTS]; /* per adder: seq of last registered cb fired */
};

struct slot {
    weft_future *f;
    struct rec rec;
    atomic_int holds[NCLIENTS]; /* client c still holds its reference */
};

/* Callback record: freed by the callback itself. */
struct cb_info {
    struct rec *rec;
    int client;
    int seq;
    pthread_t adder;
};

static _Thread_local struct cb_info *adding; /* set around add_done_callback */

static int record_cb(weft_future *f, void *ud)
{
    struct cb_info *ci = ud;
    struct rec *r = ci->rec;
    int st = weft_future_state(f);
    CHECK(st == WEFT_FINISHED || st == WEFT_CANCELLED, "callback of #%u saw state %d", r->id, st);
    CHECK(weft_future_done(f), "callback of #%u: future not done", r->id);
    bool immediate = adding == ci; /* running inside our own add call */
    atomic_fetch_add_explicit(immediate ? &n_cb_now : &n_cb_reg, 1, memory_order_relaxed);
    if (!immediate) {
        /* Registered callbacks of one future fire on one thread, FIFO. */
        int last = atomic_load_explicit(&r->last_reg_seq[ci->client], memory_order_relaxed);
        CHECK(ci->seq > last, "#%u: callback seq %d of client %d fired after seq %d", r->id,
              ci->seq, ci->client, last);
        atomic_store_explicit(&r->last_reg_seq[ci->client], ci->seq, memory_order_relaxed);
    }
    free(ci);
    atomic_fetch_add(&r->cb_fired, 1); /* last touch of r */
    return 0;
}

static void add_cb(struct rec *r, weft_future *f, int client, int seq)
{
    struct cb_info *ci = malloc(sizeof(*ci));
    if (ci == NULL) {
        fail("malloc");
        return;
    }
    *ci = (struct cb_info){r, client, seq, pthread_self()};
    atomic_fetch_add(&r->cb_expected, 1);
    adding = ci;
    int rc = weft_future_add_done_callback(f, record_cb, ci);
    adding = NULL;
    if (rc != WEFT_OK) {
        atomic_fetch_sub(&r->cb_expected, 1);
        free(ci);
        fail("add_done_callback: %s", weft_strerror(rc));
    }
}

static void res_dtor(void *p)
{
    atomic_fetch_add(&((struct rec *)p)->res_dtor, 1);
}

/* Only succeeding tasks set a result dtor: it counts the future's free. */
static int task_main(weft_ctx *ctx, void *arg, void **result)
{
    struct rec *r = arg;
    if (r->kind == 1)
        wt_spin_ns(r->dur_ns);
    else if (r->kind == 2)
        wt_sleep_ns(r->dur_ns);
    atomic_fetch_add(&r->ran, 1);
    *result = r;
    if (r->fail)
        return TASK_STATUS;
    weft_ctx_set_result_dtor(ctx, res_dtor);
    return 0;
}

static void arg_dtor(void *p)
{
    atomic_fetch_add(&((struct rec *)p)->arg_dtor, 1);
}

/* Observe a state and check it never moves backwards. */
static void observe(struct rec *r, weft_future *f)
{
    /* Load what others saw before looking: they saw it before we look. */
    int prev = atomic_load(&r->seen_phase);
    int st = weft_future_state(f);
    bool done = weft_future_done(f);
    int st2 = weft_future_state(f);
    CHECK(st >= WEFT_PENDING && st <= WEFT_CANCELLED, "#%u: bad state %d", r->id, st);
    if (done)
        CHECK(st2 == WEFT_FINISHED || st2 == WEFT_CANCELLED, "#%u: done but state %d", r->id,
              st2);
    if (st == WEFT_FINISHED || st == WEFT_CANCELLED)
        CHECK(done && st2 == st, "#%u: state %d then done=%d state %d", r->id, st, done, st2);
    if (st == WEFT_CANCELLED)
        CHECK(weft_future_cancelled(f), "#%u: cancelled() false in CANCELLED", r->id);
    /* PENDING(0) -> RUNNING(1) -> FINISHED(2), or -> CANCELLED(3). */
    bool ok = st2 >= prev || (prev == WEFT_RUNNING && st2 == WEFT_RUNNING);
    if (prev == WEFT_FINISHED || prev == WEFT_CANCELLED)
        ok = st2 == prev;
    if (prev == WEFT_RUNNING)
        ok = st2 == WEFT_RUNNING || st2 == WEFT_FINISHED;
    CHECK(ok, "#%u: phase went %d -> %d", r->id, prev, st2);
    while (prev < st2 && !atomic_compare_exchange_weak(&r->seen_phase, &prev, st2))
        ;
}

/* After a successful wait: result must not time out and must be right. */
static void check_done_result(struct rec *r, weft_future *f)
{
    void *v = NULL;
    int rc = weft_future_result(f, 0, &v);
    int st = weft_future_state(f);
    if (st == WEFT_CANCELLED) {
        CHECK(rc == WEFT_ECANCELED, "#%u: cancelled but result gave %d", r->id, rc);
    } else {
        CHECK(st == WEFT_FINISHED, "#%u: done but state %d", r->id, st);
        if (r->fail)
            CHECK(rc == WEFT_ETASK && weft_task_status() == TASK_STATUS &&
                      weft_future_task_status(f) == TASK_STATUS,
                  "#%u: result gave %d (status %d), want WEFT_ETASK (%d)", r->id, rc,
                  weft_task_status(), TASK_STATUS);
        else
            CHECK(rc == WEFT_OK && v == r, "#%u: result gave %d value %p", r->id, rc, v);
        CHECK(atomic_load(&r->ran) == 1, "#%u: finished but ran=%d", r->id,
              atomic_load(&r->ran));
    }
}

/* ---- promises ---------------------------------------------------------------------- */

struct pvalue {
    atomic_int freed;
};

struct prom {
    weft_future *f;
    struct rec rec; /* callbacks */
    struct pvalue val[2];
    atomic_int set_ok[2];
    atomic_int set_already[2];
    atomic_int cancel_rc; /* -1 unset */
};

static void pvalue_dtor(void *p)
{
    atomic_fetch_add(&((struct pvalue *)p)->freed, 1);
}

/* ---- the round ---------------------------------------------------------------------- */

static weft_pool *pool;
static struct slot slots[NSLOTS];
static struct prom proms[NPROMISES];
static pthread_barrier_t barrier;
static unsigned nrounds;
static uint64_t seed;

static void submit_own(int c, uint64_t *rs, unsigned round)
{
    for (int k = 0; k < B; k++) {
        struct slot *s = &slots[c * B + k];
        struct rec *r = &s->rec;
        memset(r, 0, sizeof(*r));
        r->id = round * NSLOTS + (unsigned)(c * B + k);
        for (int i = 0; i < NCLIENTS; i++)
            r->last_reg_seq[i] = -1;
        unsigned x = wt_rnd(rs, 100);
        r->kind = x < 50 ? 0 : x < 85 ? 1 : 2;
        r->dur_ns = r->kind == 1 ? 1000 + wt_rnd(rs, 19000) : 20000 + wt_rnd(rs, 180000);
        r->fail = wt_rnd(rs, 20) == 0;
        if (round % 2) /* slow rounds: operations meet pending and running tasks */
            r->dur_ns *= 5;
        weft_future *f = NULL;
        int rc = weft_submit(pool, task_main, r, arg_dtor, &f);
        CHECK(rc == WEFT_OK, "submit: %s", weft_strerror(rc));
        if (rc != WEFT_OK) {
            /* Keep the oracle consistent: count it as cancelled-never-run. */
            s->f = NULL;
            continue;
        }
        s->f = f;
        for (int i = 0; i < NCLIENTS; i++) {
            if (i != c)
                weft_future_ref(f);
            atomic_store(&s->holds[i], 1);
        }
    }
}

static void setup_promises(uint64_t *rs)
{
    for (int j = 0; j < NPROMISES; j++) {
        struct prom *p = &proms[j];
        memset(p, 0, sizeof(*p));
        p->rec.id = 1000000 + (unsigned)j;
        for (int i = 0; i < NCLIENTS; i++)
            p->rec.last_reg_seq[i] = -1;
        p->cancel_rc = -1;
        int rc = weft_promise_create(&p->f);
        CHECK(rc == WEFT_OK, "promise_create: %s", weft_strerror(rc));
        weft_future_ref(p->f);
        weft_future_ref(p->f); /* one reference per client */
        if (wt_rnd(rs, 2))
            add_cb(&p->rec, p->f, 0, 0);
    }
}

static void race_promises(int c, uint64_t *rs)
{
    int order[NPROMISES];
    for (int j = 0; j < NPROMISES; j++)
        order[j] = j;
    for (int j = NPROMISES - 1; j > 0; j--) {
        int k = (int)wt_rnd(rs, (unsigned)j + 1), t = order[j];
        order[j] = order[k];
        order[k] = t;
    }
    for (int jj = 0; jj < NPROMISES; jj++) {
        struct prom *p = &proms[order[jj]];
        if (c < 2) {
            if (wt_rnd(rs, 4) == 0)
                weft_promise_set_running(p->f); /* may lose: EALREADY/ECANCELED */
            int rc = weft_promise_set_result(p->f, &p->val[c], pvalue_dtor);
            if (rc == WEFT_OK)
                atomic_store(&p->set_ok[c], 1);
            else if (rc == WEFT_EALREADY)
                atomic_store(&p->set_already[c], 1);
            else
                fail("promise %d: set_result by %d gave %d", order[jj], c, rc);
        } else {
            unsigned x = wt_rnd(rs, 3);
            if (x == 0) {
                atomic_store(&p->cancel_rc, weft_future_cancel(p->f));
            } else if (x == 1) {
                add_cb(&p->rec, p->f, c, 1 + jj);
            } else {
                int rc = weft_future_wait(p->f, (int64_t)wt_rnd(rs, 50000));
                CHECK(rc == WEFT_OK || rc == WEFT_ETIMEDOUT, "promise wait gave %d", rc);
            }
        }
    }
}

static void check_promises(void)
{
    for (int j = 0; j < NPROMISES; j++) {
        struct prom *p = &proms[j];
        int wins = p->set_ok[0] + p->set_ok[1] + (p->cancel_rc == 1);
        CHECK(wins == 1, "promise %d: %d winners (set %d/%d, cancel %d)", j, wins, p->set_ok[0],
              p->set_ok[1], p->cancel_rc);
        for (int c = 0; c < 2; c++) {
            CHECK(p->set_ok[c] + p->set_already[c] == 1, "promise %d setter %d: ok %d already %d",
                  j, c, p->set_ok[c], p->set_already[c]);
            /* A loser's value is freed at once; the winner's with the future. */
            int want = p->set_ok[c] ? 0 : 1;
            CHECK(atomic_load(&p->val[c].freed) == want, "promise %d value %d freed %d, want %d",
                  j, c, atomic_load(&p->val[c].freed), want);
        }
        int st = weft_future_state(p->f);
        void *v = NULL;
        int rc = weft_future_result(p->f, 0, &v);
        if (p->cancel_rc == 1) {
            atomic_fetch_add_explicit(&n_prom_cancel, 1, memory_order_relaxed);
            CHECK(st == WEFT_CANCELLED && rc == WEFT_ECANCELED, "promise %d: cancelled but %d/%d",
                  j, st, rc);
        } else {
            int w = p->set_ok[0] ? 0 : 1;
            CHECK(st == WEFT_FINISHED && rc == WEFT_OK && v == &p->val[w],
                  "promise %d: state %d rc %d value %p", j, st, rc, v);
            CHECK(p->cancel_rc != 1, "promise %d: cancel won and a setter won", j);
        }
        CHECK(atomic_load(&p->rec.cb_fired) == atomic_load(&p->rec.cb_expected),
              "promise %d: %d of %d callbacks fired", j, atomic_load(&p->rec.cb_fired),
              atomic_load(&p->rec.cb_expected));
        int winner = p->set_ok[0] ? 0 : p->set_ok[1] ? 1 : -1;
        for (int c = 0; c < NCLIENTS; c++)
            weft_future_release(p->f);
        if (winner >= 0)
            CHECK(atomic_load(&p->val[winner].freed) == 1, "promise %d: winner value freed %d",
                  j, atomic_load(&p->val[winner].freed));
    }
}

static void random_op(int c, uint64_t *rs, int *seq)
{
    struct slot *s = &slots[wt_rnd(rs, NSLOTS)];
    struct rec *r = &s->rec;
    weft_future *f = s->f;
    if (f == NULL || !atomic_load(&s->holds[c]))
        return;
    bool owner = (int)((s - slots) / B) == c;
    unsigned op = wt_rnd(rs, 100);
    int rc;
    if (op < 12) {
        rc = weft_future_cancel(f);
        CHECK(rc == 0 || rc == 1, "#%u: cancel gave %d", r->id, rc);
        atomic_fetch_add(rc == 1 ? &r->cancel_true : &r->cancel_false, 1);
        if (rc == 1)
            CHECK(weft_future_cancelled(f), "#%u: cancel()=1 but not cancelled", r->id);
    } else if (op < 15) {
        rc = weft_future_request_cancel(f);
        CHECK(rc == WEFT_OK, "#%u: request_cancel gave %d", r->id, rc);
    } else if (op < 35) {
        int64_t t = (int64_t)wt_rnd(rs, 300000);
        int64_t t0 = wt_now_ns();
        rc = weft_future_wait(f, t);
        int64_t el = wt_now_ns() - t0;
        CHECK(rc == WEFT_OK || rc == WEFT_ETIMEDOUT, "#%u: wait gave %d", r->id, rc);
        if (rc == WEFT_OK)
            check_done_result(r, f);
        else
            atomic_fetch_add_explicit(&n_timeouts, 1, memory_order_relaxed);
        if (rc != WEFT_OK)
            CHECK(el >= t, "#%u: %" PRId64 " ns wait timed out after %" PRId64, r->id, t, el);
    } else if (op < 42) {
        rc = weft_future_wait(f, WAIT_BOUND_NS);
        CHECK(rc == WEFT_OK, "#%u: wait (10 s) gave %d: lost wake-up?", r->id, rc);
        if (rc == WEFT_OK)
            check_done_result(r, f);
    } else if (op < 55) {
        void *v = NULL;
        rc = weft_future_result(f, (int64_t)wt_rnd(rs, 200000), &v);
        if (rc == WEFT_ETIMEDOUT)
            ; /* it may have finished since: nothing to check */
        else if (rc == WEFT_ECANCELED)
            CHECK(weft_future_cancelled(f), "#%u: ECANCELED but not cancelled", r->id);
        else if (rc == WEFT_ETASK)
            CHECK(r->fail && weft_task_status() == TASK_STATUS,
                  "#%u: WEFT_ETASK (status %d) from a task that %s", r->id, weft_task_status(),
                  r->fail ? "failed" : "succeeded");
        else
            CHECK(rc == WEFT_OK && v == r && !r->fail, "#%u: result %d value %p", r->id, rc, v);
    } else if (op < 70) {
        observe(r, f);
    } else if (op < 85) {
        add_cb(r, f, c, ++*seq);
    } else if (op < 93) {
        weft_future *g = weft_future_ref(f);
        CHECK(g == f, "ref returned another pointer");
        weft_future_release(g);
    } else if (!owner) {
        atomic_store(&s->holds[c], 0);
        weft_future_release(f);
    }
}

static void finish_own(int c)
{
    for (int k = 0; k < B; k++) {
        struct slot *s = &slots[c * B + k];
        if (s->f == NULL)
            continue;
        int rc = weft_future_wait(s->f, WAIT_BOUND_NS);
        CHECK(rc == WEFT_OK, "#%u: final wait (10 s) gave %d: lost wake-up?", s->rec.id, rc);
        if (rc == WEFT_OK)
            check_done_result(&s->rec, s->f);
        observe(&s->rec, s->f);
        s->rec.seen_phase = weft_future_state(s->f); /* final phase, for the oracle */
    }
}

static void release_rest(int c, uint64_t *rs)
{
    int idx[NSLOTS];
    for (int i = 0; i < NSLOTS; i++)
        idx[i] = i;
    for (int i = NSLOTS - 1; i > 0; i--) {
        int k = (int)wt_rnd(rs, (unsigned)i + 1), t = idx[i];
        idx[i] = idx[k];
        idx[k] = t;
    }
    for (int i = 0; i < NSLOTS; i++) {
        struct slot *s = &slots[idx[i]];
        if (s->f != NULL && atomic_exchange(&s->holds[c], 0))
            weft_future_release(s->f);
    }
}

/* Poll until the runtime has disposed of everything, then check. */
static void check_round(void)
{
    int64_t end = wt_now_ns() + WAIT_BOUND_NS;
    for (int i = 0; i < NSLOTS; i++) {
        struct rec *r = &slots[i].rec;
        if (slots[i].f == NULL)
            continue;
        int final = r->seen_phase;
        int want_res = final == WEFT_FINISHED && !r->fail ? 1 : 0;
        while ((atomic_load(&r->arg_dtor) < 1 || atomic_load(&r->cb_fired) <
                                                     atomic_load(&r->cb_expected) ||
                atomic_load(&r->res_dtor) < want_res) &&
               wt_now_ns() < end)
            wt_sleep_ns(100000);
        int ran = atomic_load(&r->ran);
        atomic_fetch_add_explicit(final == WEFT_CANCELLED ? &n_cancelled : &n_ran, 1,
                                  memory_order_relaxed);
        CHECK(final == WEFT_FINISHED || final == WEFT_CANCELLED, "#%u: final state %d", r->id,
              final);
        CHECK((ran == 1) != (final == WEFT_CANCELLED) && ran <= 1,
              "#%u: ran %d times, final state %d", r->id, ran, final);
        CHECK(atomic_load(&r->arg_dtor) == 1, "#%u: arg_dtor ran %d times", r->id,
              atomic_load(&r->arg_dtor));
        CHECK(atomic_load(&r->cb_fired) == atomic_load(&r->cb_expected),
              "#%u: %d of %d callbacks fired", r->id, atomic_load(&r->cb_fired),
              atomic_load(&r->cb_expected));
        CHECK(atomic_load(&r->res_dtor) == want_res, "#%u: result_dtor ran %d times, want %d",
              r->id, atomic_load(&r->res_dtor), want_res);
        CHECK(!(r->cancel_true && r->cancel_false), "#%u: cancel returned both 1 and 0", r->id);
        if (r->cancel_true)
            CHECK(final == WEFT_CANCELLED, "#%u: cancel()=1 but final %d", r->id, final);
        if (r->cancel_false)
            CHECK(final == WEFT_FINISHED, "#%u: cancel()=0 but final %d", r->id, final);
    }
}

static void *client_main(void *arg)
{
    int c = (int)(intptr_t)arg;
    uint64_t rs = seed ^ (0x9E3779B97F4A7C15ull * (uint64_t)(c + 1));
    if (rs == 0)
        rs = 1;
    int seq = 0;
    for (unsigned round = 0; round < nrounds; round++) {
        if (c == 0) {
            atomic_store(&cur_round, round);
            setup_promises(&rs);
        }
        submit_own(c, &rs, round);
        pthread_barrier_wait(&barrier);
        race_promises(c, &rs);
        for (int i = 0; i < OPS; i++)
            random_op(c, &rs, &seq);
        finish_own(c);
        pthread_barrier_wait(&barrier); /* owners have seen their final states */
        release_rest(c, &rs);
        pthread_barrier_wait(&barrier);
        if (c == 0) {
            check_round();
            check_promises();
        }
        pthread_barrier_wait(&barrier);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    nrounds = wt_stress_iters(argc, argv, DEFAULT_ROUNDS);
    seed = wt_stress_seed();
    printf("future_stress: seed %" PRIu64 " (WEFT_STRESS_SEED), %u rounds, %d clients, "
           "%d tasks/round\n", seed, nrounds, NCLIENTS, NSLOTS);
    signal(SIGALRM, on_alarm);
    alarm(WATCHDOG_S);

    int rc = wt_pool_new(&pool, 2);
    if (rc != WEFT_OK) {
        printf("pool_create: %s\n0 passed, 1 failed\n", weft_strerror(rc));
        return 1;
    }
    pthread_barrier_init(&barrier, NULL, NCLIENTS);
    int64_t t0 = wt_now_ns();
    pthread_t th[NCLIENTS];
    for (int c = 0; c < NCLIENTS; c++)
        pthread_create(&th[c], NULL, client_main, (void *)(intptr_t)c);
    for (int c = 0; c < NCLIENTS; c++)
        pthread_join(th[c], NULL);
    rc = weft_pool_destroy(pool);
    CHECK(rc == WEFT_OK, "destroy: %s", weft_strerror(rc));
    pthread_barrier_destroy(&barrier);
    printf("future_stress: %.2f s; tasks ran %lu, cancelled %lu; callbacks registered %lu, "
           "immediate %lu; timed-out waits %lu; promises won by cancel %lu\n",
           (double)(wt_now_ns() - t0) / 1e9, atomic_load(&n_ran), atomic_load(&n_cancelled),
           atomic_load(&n_cb_reg), atomic_load(&n_cb_now), atomic_load(&n_timeouts),
           atomic_load(&n_prom_cancel));
    return wt_checks_summary(&checks) == 0 ? 0 : 1;
}
