/* Stress test for the Chase-Lev deque (design notes section 6): one owner
 * pushes ids 0..N-1 and takes in random bursts, three thieves steal.
 *
 * Oracles
 *   - Exactly once: every consumer bumps seen[id]; at the end all must be 1.
 *   - FIFO per thief: the ids one thief steals are strictly increasing,
 *     because steals take the oldest element and the owner pushes in order.
 *   - LIFO for the owner: a shadow stack holds the ids the owner pushed and
 *     did not take. Thieves only remove its oldest entries, so a take must
 *     return the newest one, and NULL means all of them were stolen.
 *
 * Shape
 *   - Rounds: each round starts from a fresh deque of capacity 2, so growth
 *     (and, in the RCU build, grace periods for old buffers) happens all the time.
 *     Between rounds the thieves wait on a barrier while the owner swaps deques,
 *     and a round starts only once every thief is back in its steal loop
 *     (otherwise a fast owner finishes rounds before sleeping thieves wake).
 *   - Phases: random bursts (push p, take q <= p; sometimes p in the
 *     thousands) and tight near-empty phases (drain, then push k in {1,2,3}
 *     and take k while the thieves hammer the last-element race).
 *   - Items are records in a ring that is reused: the owner writes the id with
 *     a plain store before pushing and consumers read it with a plain load, so
 *     TSan checks that push/steal publish the task record (edge [DQ1]).
 *
 * Usage: deque_stress [items]; env WEFT_STRESS_ITERS (items) and
 * WEFT_STRESS_SEED. Built with -DWEFT_RECLAIM_RETIRE it makes no liburcu
 * calls (liburcu is not TSan-instrumented). */
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "deque.h"
#include "weft_test.h"

#ifndef WEFT_RECLAIM_RETIRE
#include <urcu/urcu-memb.h>
#endif


/* Defaults keep a run near 10 s or less on 2 vCPUs (sanitizers are slower). */
#if defined(WEFT_TSAN)
#define DEFAULT_ITEMS 2000000ull
#elif defined(WT_ASAN)
#define DEFAULT_ITEMS 3000000ull
#else
#define DEFAULT_ITEMS 10000000ull
#endif

#define NTHIEVES 3
#define RING_SIZE (1u << 16)      /* item records, reused round-robin */
#define ROUND_MIN 1024u           /* items per deque before it is replaced */
#define ROUND_MAX 16384u
#define BURST_MAX 256u            /* pushes in an ordinary burst */
#define BIG_BURST_MAX 8192u       /* pushes in a rare big burst (1 in 32) */
#define TIGHT_REPS 64u            /* push k / take k pairs per tight phase */
#define SHADOW_CAP (ROUND_MAX + BIG_BURST_MAX)
#define WATCHDOG_S 100u
#define LOST_AFTER_NS 10000000000ll /* an item not consumed after 10 s is lost */
#define MAX_REPORTS 10u
#define NO_ID UINT64_MAX

struct item {
    struct weft__task task; /* what the deque stores; never run */
    uint64_t id;            /* plain field: owner writes, consumer reads */
};

struct thief {
    alignas(WEFT_CACHE_LINE) pthread_t thread;
    unsigned index;
    uint64_t last_id; /* last id stolen, NO_ID before the first */
    uint64_t steals;
    uint64_t aborts;
    uint64_t empties;
};

struct owner {
    uint64_t rng;        /* xorshift64 state */
    uint64_t next_id;    /* next id to push */
    uint64_t *shadow;    /* ids pushed and not taken, oldest first */
    size_t depth;        /* entries in shadow */
    size_t max_depth;
    uint64_t takes;
    uint64_t null_takes;
    uint64_t rounds;
};

static struct {
    struct weft__deque dq;            /* replaced every round */
    uint64_t nitems;
    struct item *ring;
    _Atomic unsigned char *seen;      /* consumptions per id */
    _Atomic int round_end;            /* owner asks the thieves to stop */
    _Atomic int done;                 /* set before the last round barrier */
    _Atomic unsigned ready;           /* thieves stealing between the barriers */
    _Atomic uint64_t failures;
    pthread_barrier_t barrier;        /* owner + thieves, at round switches */
    struct thief thieves[NTHIEVES];
} S;

/* ---- helpers ------------------------------------------------------------- */

static void rcu_register(void)
{
#ifndef WEFT_RECLAIM_RETIRE
    urcu_memb_register_thread();
#endif
}

static void rcu_unregister(void)
{
#ifndef WEFT_RECLAIM_RETIRE
    urcu_memb_unregister_thread();
#endif
}

static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    wt_vfail(&S.failures, MAX_REPORTS, fmt, ap);
    va_end(ap);
}

/* Abort the run: used when continuing would hang (a lost item). */
static void fail_fatal(const char *msg)
{
    fprintf(stderr, "FAIL: %s\n", msg);
    printf("0 passed, 1 failed\n");
    fflush(stdout);
    _exit(1);
}

/* Record one consumption of the task t. Returns its id, or NO_ID if the
 * pointer is not one of our records. */
static uint64_t consume(struct weft__task *t, const char *who)
{
    uintptr_t p = (uintptr_t)t, base = (uintptr_t)S.ring;
    if (p < base || p >= base + RING_SIZE * sizeof(struct item) ||
        (p - base) % sizeof(struct item) != offsetof(struct item, task)) {
        fail("%s got %p, which is not an item record", who, (void *)t);
        return NO_ID;
    }
    struct item *it = weft_container_of(t, struct item, task);
    uint64_t id = it->id;
    if (id >= S.nitems || &S.ring[id % RING_SIZE] != it) {
        fail("%s got record %p holding id %" PRIu64 ", which belongs elsewhere", who,
             (void *)it, id);
        return NO_ID;
    }
    /* release: orders our read of it->id before the owner's reuse of the
     * record, which acquires seen[id] in ring_wait(). */
    unsigned prev = atomic_fetch_add_explicit(&S.seen[id], 1, memory_order_release);
    if (prev != 0)
        fail("%s: id %" PRIu64 " consumed %u times", who, id, prev + 1);
    return id;
}

/* ---- owner ------------------------------------------------------------- */

/* Take one item and check it against the shadow stack. False if empty. */
static bool owner_take(struct owner *o)
{
    struct weft__task *t = weft__deque_take(&S.dq, NULL);
    if (t == NULL) {
        o->null_takes++;
        o->depth = 0; /* NULL: every id the owner still had was stolen */
        return false;
    }
    o->takes++;
    uint64_t id = consume(t, "owner");
    if (id == NO_ID)
        return true;
    if (o->next_id == 0 || id > o->next_id - 1)
        fail("owner take returned id %" PRIu64 " > last pushed id", id);
    else if (o->depth == 0)
        fail("owner take returned id %" PRIu64 ", the shadow stack is empty", id);
    else if (o->shadow[o->depth - 1] != id)
        fail("owner take returned id %" PRIu64 ", want the newest %" PRIu64 " (LIFO)", id,
             o->shadow[o->depth - 1]);
    if (o->depth > 0)
        o->depth--;
    return true;
}

static void owner_drain(struct owner *o)
{
    while (owner_take(o))
        ;
}

/* Wait until the record for id is free: its previous id was consumed. The
 * owner takes its own items meanwhile; otherwise a thief holds it. */
static void ring_wait(struct owner *o, uint64_t id)
{
    if (id < RING_SIZE)
        return;
    uint64_t prev = id - RING_SIZE;
    int64_t start = 0;
    /* acquire: pairs with the release in consume(), so the consumer's read of
     * the record happens before our rewrite. */
    while (atomic_load_explicit(&S.seen[prev], memory_order_acquire) == 0) {
        if (owner_take(o))
            continue;
        if (start == 0)
            start = wt_now_ns();
        else if (wt_now_ns() - start > LOST_AFTER_NS)
            fail_fatal("an item was never consumed (lost by the deque)");
        sched_yield();
    }
}

static void owner_push(struct owner *o)
{
    uint64_t id = o->next_id;
    ring_wait(o, id);
    struct item *it = &S.ring[id % RING_SIZE];
    it->id = id;
    if (weft__deque_push(&S.dq, &it->task, 0) != 0)
        fail_fatal("weft__deque_push: out of memory");
    o->next_id++;
    if (o->depth == SHADOW_CAP)
        fail_fatal("shadow stack overflow (test bug)");
    o->shadow[o->depth++] = id;
    if (o->depth > o->max_depth)
        o->max_depth = o->depth;
}

static unsigned push_upto(struct owner *o, unsigned n, uint64_t limit)
{
    unsigned pushed = 0;
    while (pushed < n && o->next_id < limit) {
        owner_push(o);
        pushed++;
    }
    return pushed;
}

/* Drain, then push k in {1,2,3} and take k, against the thieves. */
static void phase_tight(struct owner *o, uint64_t limit)
{
    owner_drain(o);
    for (unsigned r = 0; r < TIGHT_REPS && o->next_id < limit; r++) {
        unsigned k = push_upto(o, 1 + (unsigned)(wt_xorshift64(&o->rng) % 3), limit);
        for (unsigned i = 0; i < k; i++)
            owner_take(o);
    }
}

/* Push p, then take up to q <= p (stopping at the first NULL). */
static void phase_burst(struct owner *o, uint64_t limit)
{
    unsigned max = wt_xorshift64(&o->rng) % 32 == 0 ? BIG_BURST_MAX : BURST_MAX;
    unsigned p = push_upto(o, 1 + (unsigned)(wt_xorshift64(&o->rng) % max), limit);
    unsigned q = (unsigned)(wt_xorshift64(&o->rng) % (p + 1));
    for (unsigned i = 0; i < q && owner_take(o); i++)
        ;
}

/* Replace the deque while every thief waits on the barrier. */
static void round_switch(bool last)
{
    if (weft__deque_nonempty(&S.dq))
        fail("deque reports nonempty after the owner's take returned NULL");
    /* relaxed: only a prompt; the barrier orders the deque swap. */
    atomic_store_explicit(&S.round_end, 1, memory_order_relaxed);
    pthread_barrier_wait(&S.barrier); /* every thief has left the deque */
    weft__deque_fini(&S.dq);
    /* relaxed: the thieves are blocked in the barrier below. */
    atomic_store_explicit(&S.ready, 0, memory_order_relaxed);
    if (last) {
        /* relaxed: published to the thieves by the barrier below. */
        atomic_store_explicit(&S.done, 1, memory_order_relaxed);
    } else if (weft__deque_init(&S.dq, 2, true) != 0) {
        fail_fatal("weft__deque_init: out of memory");
    }
    /* relaxed: published to the thieves by the barrier below. */
    atomic_store_explicit(&S.round_end, 0, memory_order_relaxed);
    pthread_barrier_wait(&S.barrier);
}

/* Wait until every thief is stealing, so each round is contended. */
static void wait_thieves_ready(void)
{
    /* relaxed: a count only; the deque was published by the barrier. */
    while (atomic_load_explicit(&S.ready, memory_order_relaxed) < NTHIEVES)
        sched_yield();
}

static void owner_run(struct owner *o)
{
    while (o->next_id < S.nitems) {
        wait_thieves_ready();
        uint64_t len = ROUND_MIN + wt_xorshift64(&o->rng) % (ROUND_MAX - ROUND_MIN + 1);
        uint64_t limit = o->next_id + len < S.nitems ? o->next_id + len : S.nitems;
        while (o->next_id < limit) {
            uint64_t r = wt_xorshift64(&o->rng);
            if (r & 1)
                phase_tight(o, limit);
            else
                phase_burst(o, limit);
            if (r % 16 < 2)
                sched_yield(); /* let a descheduled thief in mid-round */
        }
        owner_drain(o);
        o->rounds++;
        round_switch(o->next_id == S.nitems);
    }
}

/* ---- thieves ------------------------------------------------------------- */

static void thief_steal(struct thief *th)
{
    struct weft__task *t = NULL;
#ifndef WEFT_RECLAIM_RETIRE
    urcu_memb_read_lock(); /* the buffer may be retired by a growing push */
#endif
    int r = weft__deque_steal(&S.dq, &t, false);
#ifndef WEFT_RECLAIM_RETIRE
    urcu_memb_read_unlock();
#endif
    if (r == WEFT_STEAL_EMPTY) {
        th->empties++;
        sched_yield(); /* never spin on an empty deque */
        return;
    }
    if (r == WEFT_STEAL_ABORT) {
        th->aborts++;
        return;
    }
    if (r != WEFT_STEAL_OK || t == NULL) {
        fail("thief %u: steal returned %d with task %p", th->index, r, (void *)t);
        return;
    }
    th->steals++;
    uint64_t id = consume(t, "thief");
    if (id == NO_ID)
        return;
    if (th->last_id != NO_ID && id <= th->last_id)
        fail("thief %u stole id %" PRIu64 " after %" PRIu64 " (not FIFO)", th->index, id,
             th->last_id);
    th->last_id = id;
}

static void *thief_main(void *arg)
{
    struct thief *th = arg;
    rcu_register();
    /* relaxed: a count the owner polls; it orders nothing. */
    atomic_fetch_add_explicit(&S.ready, 1, memory_order_relaxed);
    /* relaxed: done is written before the round barrier we passed last. */
    while (!atomic_load_explicit(&S.done, memory_order_relaxed)) {
        /* relaxed: a prompt only; the barriers order the deque swap. */
        if (atomic_load_explicit(&S.round_end, memory_order_relaxed)) {
            pthread_barrier_wait(&S.barrier);
            pthread_barrier_wait(&S.barrier);
            /* relaxed: as above. */
            atomic_fetch_add_explicit(&S.ready, 1, memory_order_relaxed);
            continue;
        }
        thief_steal(th);
    }
    rcu_unregister();
    return NULL;
}

/* ---- main -------------------------------------------------------------- */

static uint64_t parse_u64(const char *s, const char *what)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 0);
    if (*s == '\0' || *end != '\0' || v == 0) {
        fprintf(stderr, "deque_stress: bad %s '%s'\n", what, s);
        exit(2);
    }
    return v;
}

static uint64_t pick_seed(void)
{
    const char *env = getenv("WEFT_STRESS_SEED");
    if (env != NULL && *env != '\0')
        return parse_u64(env, "WEFT_STRESS_SEED");
    uint64_t s = (uint64_t)wt_now_ns() ^ ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid();
    return s != 0 ? s : 1;
}

static uint64_t pick_items(int argc, char **argv)
{
    if (argc > 1)
        return parse_u64(argv[1], "item count");
    const char *env = getenv("WEFT_STRESS_ITERS");
    if (env != NULL && *env != '\0')
        return parse_u64(env, "WEFT_STRESS_ITERS");
    return DEFAULT_ITEMS;
}

static void setup(uint64_t nitems)
{
    S.nitems = nitems;
    S.ring = calloc(RING_SIZE, sizeof(*S.ring));
    S.seen = calloc(nitems, sizeof(*S.seen));
    if (S.ring == NULL || S.seen == NULL || weft__deque_init(&S.dq, 2, true) != 0 ||
        pthread_barrier_init(&S.barrier, NULL, NTHIEVES + 1) != 0)
        fail_fatal("setup: out of memory");
}

/* Count ids consumed 0 and more than 1 times. */
static bool check_seen(void)
{
    uint64_t missing = 0, dup = 0;
    for (uint64_t i = 0; i < S.nitems; i++) {
        /* relaxed: the consumers were joined. */
        unsigned c = atomic_load_explicit(&S.seen[i], memory_order_relaxed);
        missing += c == 0;
        dup += c > 1;
        if ((c != 1) && missing + dup <= MAX_REPORTS)
            fprintf(stderr, "FAIL: id %" PRIu64 " consumed %u times\n", i, c);
    }
    printf("exactly-once: %" PRIu64 " missing, %" PRIu64 " duplicated\n", missing, dup);
    return missing == 0 && dup == 0;
}

static void report(const struct owner *o, int64_t ns)
{
    uint64_t steals = 0;
    printf("owner: rounds=%" PRIu64 " takes=%" PRIu64 " null_takes=%" PRIu64
           " max_depth=%zu\n", o->rounds, o->takes, o->null_takes, o->max_depth);
    for (unsigned i = 0; i < NTHIEVES; i++) {
        const struct thief *th = &S.thieves[i];
        printf("thief %u: steals=%" PRIu64 " aborts=%" PRIu64 " empties=%" PRIu64 "\n", i,
               th->steals, th->aborts, th->empties);
        steals += th->steals;
    }
    printf("items=%" PRIu64 " (owner %" PRIu64 ", thieves %" PRIu64 ") in %.3f s: %.0f items/s\n",
           S.nitems, o->takes, steals, (double)ns / 1e9, (double)S.nitems * 1e9 / (double)ns);
}

int main(int argc, char **argv)
{
    uint64_t nitems = pick_items(argc, argv);
    uint64_t seed = pick_seed();
    signal(SIGALRM, wt_on_watchdog);
    alarm(WATCHDOG_S);
#ifdef WEFT_RECLAIM_RETIRE
    const char *reclaim = "retire";
#else
    const char *reclaim = "rcu";
#endif
    printf("deque_stress: items=%" PRIu64 " thieves=%d reclaim=%s seed=%" PRIu64
           " (replay the owner's choices with WEFT_STRESS_SEED)\n", nitems, NTHIEVES, reclaim,
           seed);
    fflush(stdout);

    setup(nitems);
    struct owner o = { .rng = seed, .shadow = malloc(SHADOW_CAP * sizeof(uint64_t)) };
    if (o.shadow == NULL)
        fail_fatal("setup: out of memory");
    rcu_register(); /* the owner's growing pushes wait for grace periods */
    int64_t start = wt_now_ns();
    for (unsigned i = 0; i < NTHIEVES; i++) {
        S.thieves[i] = (struct thief){ .index = i, .last_id = NO_ID };
        if (pthread_create(&S.thieves[i].thread, NULL, thief_main, &S.thieves[i]) != 0)
            fail_fatal("pthread_create failed");
    }
    owner_run(&o);
    for (unsigned i = 0; i < NTHIEVES; i++)
        pthread_join(S.thieves[i].thread, NULL);
    int64_t ns = wt_now_ns() - start;
#ifndef WEFT_RECLAIM_RETIRE
    urcu_memb_barrier(); /* run every pending free of a retired buffer */
#endif
    rcu_unregister();

    report(&o, ns);
    bool ok = check_seen();
    /* relaxed: every thread that could fail was joined. */
    ok = ok && atomic_load_explicit(&S.failures, memory_order_relaxed) == 0;
    pthread_barrier_destroy(&S.barrier);
    free(o.shadow);
    free((void *)S.seen);
    free(S.ring);
    printf(ok ? "1 passed, 0 failed\n" : "0 passed, 1 failed\n");
    return ok ? 0 : 1;
}
