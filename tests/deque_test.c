/* Unit tests for the Chase-Lev deque (runtime/deque.c): single-threaded
 * semantics (LIFO take, FIFO steal, growth, the last-element paths, the
 * nonempty hint) and a small two-thread exactly-once check. The heavy
 * concurrent oracles live in tests/stress/deque_stress.c. */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>

#include "deque.h"

#ifndef WEFT_RECLAIM_RETIRE
#include <urcu/urcu-memb.h>
#endif

#define NTASKS 8192

static struct weft__deque dq;
static struct weft__task tasks[NTASKS]; /* identity only: never run */

/* Growing pushes wait for grace periods and steals take the read lock, so the test
 * thread is registered for every test (RCU build only). */
static void rcu_enter(void)
{
#ifndef WEFT_RECLAIM_RETIRE
    urcu_memb_register_thread();
#endif
}

static void rcu_leave(void)
{
#ifndef WEFT_RECLAIM_RETIRE
    urcu_memb_unregister_thread();
#endif
}

TestSuite(deque, .timeout = 20, .init = rcu_enter, .fini = rcu_leave);

static int steal(struct weft__task **out)
{
#ifndef WEFT_RECLAIM_RETIRE
    urcu_memb_read_lock();
#endif
    int r = weft__deque_steal(&dq, out, false);
#ifndef WEFT_RECLAIM_RETIRE
    urcu_memb_read_unlock();
#endif
    return r;
}

static void init(size_t cap)
{
    cr_assert_eq(weft__deque_init(&dq, cap, true), 0);
}

static void push(size_t i)
{
    cr_assert_eq(weft__deque_push(&dq, &tasks[i], 0), 0, "push of task %zu failed", i);
}

static void push_range(size_t from, size_t to)
{
    for (size_t i = from; i < to; i++)
        push(i);
}

static void expect_take(size_t i)
{
    struct weft__task *t = weft__deque_take(&dq, NULL);
    cr_assert_eq(t, &tasks[i], "take returned task %td, want %zu", t ? t - tasks : -1, i);
}

static void expect_steal(size_t i)
{
    struct weft__task *t = NULL;
    cr_assert_eq(steal(&t), WEFT_STEAL_OK);
    cr_assert_eq(t, &tasks[i], "steal returned task %td, want %zu", t ? t - tasks : -1, i);
}

static void expect_empty(void)
{
    struct weft__task *sentinel = &tasks[NTASKS - 1], *t = sentinel;
    cr_assert_eq(steal(&t), WEFT_STEAL_EMPTY);
    cr_assert_eq(t, sentinel, "steal wrote its out-parameter without succeeding");
    cr_assert_null(weft__deque_take(&dq, NULL));
}

/* ---- single-threaded ------------------------------------------------------- */

Test(deque, take_on_empty_returns_null)
{
    init(2);
    cr_assert_null(weft__deque_take(&dq, NULL));
    cr_assert_null(weft__deque_take(&dq, NULL));
    cr_assert_eq(weft__deque_bottom(&dq), 0, "take on an empty deque must restore bottom");
    push(0);
    expect_take(0);
    cr_assert_null(weft__deque_take(&dq, NULL));
    weft__deque_fini(&dq);
}

Test(deque, push_then_take_is_lifo)
{
    init(16);
    push_range(0, 10);
    for (size_t i = 10; i-- > 0;)
        expect_take(i);
    cr_assert_null(weft__deque_take(&dq, NULL));
    weft__deque_fini(&dq);
}

Test(deque, steal_is_fifo)
{
    init(16);
    push_range(0, 10);
    for (size_t i = 0; i < 10; i++)
        expect_steal(i);
    expect_empty();
    weft__deque_fini(&dq);
}

Test(deque, bottom_counts_pushes_minus_takes_without_steals)
{
    init(2);
    push_range(0, 5);
    cr_assert_eq(weft__deque_bottom(&dq), 5);
    expect_take(4);
    cr_assert_eq(weft__deque_bottom(&dq), 4);
    weft__deque_fini(&dq);
}

Test(deque, growth_from_capacity_2_keeps_all_items_in_order)
{
    init(2);
    push_range(0, 4000);
    for (size_t i = 0; i < 1000; i++)
        expect_steal(i);
    /* Grow again with top > 0: the copy covers wrapped indices [top, bottom). */
    push_range(4000, 8000);
    for (size_t i = 8000; i-- > 1000;)
        expect_take(i);
    expect_empty();
    weft__deque_fini(&dq);
}

Test(deque, growth_while_thieves_advance_top_keeps_fifo)
{
    init(2);
    size_t next = 0, stolen = 0;
    /* Push two, steal one: the deque grows by one element per step while
     * top moves, so every growth copies a window that wrapped around. */
    while (next + 2 <= 6000) {
        push(next++);
        push(next++);
        expect_steal(stolen++);
    }
    while (next > stolen)
        expect_take(--next);
    expect_empty();
    weft__deque_fini(&dq);
}

Test(deque, steal_on_empty_returns_empty)
{
    init(2);
    expect_empty();
    push(0);
    expect_take(0);
    expect_empty();
    push(1);
    expect_steal(1);
    expect_empty();
    weft__deque_fini(&dq);
}

Test(deque, take_after_last_item_was_stolen_returns_null)
{
    init(2);
    push(0);
    expect_steal(0);
    cr_assert_null(weft__deque_take(&dq, NULL));
    /* The deque stays usable: indices are consistent after the failed take. */
    push(1);
    push(2);
    expect_steal(1);
    expect_take(2);
    expect_empty();
    weft__deque_fini(&dq);
}

Test(deque, take_wins_last_item_then_steal_finds_empty)
{
    init(2);
    push(0);
    expect_take(0); /* top == bottom - 1: the owner's CAS path */
    expect_empty();
    push(1);
    push(2);
    expect_steal(1);
    expect_take(2); /* one left after a steal: CAS path again */
    expect_empty();
    push(3);
    push(4);
    expect_take(4); /* two left: no CAS */
    expect_steal(3);
    expect_empty();
    weft__deque_fini(&dq);
}

Test(deque, nonempty_hint_follows_the_contents)
{
    init(2);
    cr_assert_not(weft__deque_nonempty(&dq));
    push(0);
    cr_assert(weft__deque_nonempty(&dq));
    expect_take(0);
    cr_assert_not(weft__deque_nonempty(&dq));
    push(1);
    push(2);
    expect_steal(1);
    cr_assert(weft__deque_nonempty(&dq));
    expect_take(2);
    cr_assert_not(weft__deque_nonempty(&dq));
    push(3);
    expect_steal(3);
    cr_assert_not(weft__deque_nonempty(&dq));
    cr_assert_null(weft__deque_take(&dq, NULL));
    cr_assert_not(weft__deque_nonempty(&dq));
    weft__deque_fini(&dq);
}

/* ---- two threads ------------------------------------------------------------ */

#define CONC_ROUNDS 40 /* NTASKS items per round: 327,680 in all */

static _Atomic unsigned char seen[NTASKS];
static _Atomic int owner_done;
static size_t thief_steals;
static bool thief_fifo_ok = true;

static void record(struct weft__task *t)
{
    /* relaxed: counters only; the threads are joined before the check. */
    atomic_fetch_add_explicit(&seen[t - tasks], 1, memory_order_relaxed);
}

static void *thief_main(void *arg)
{
    (void)arg;
    ptrdiff_t last = -1;
#ifndef WEFT_RECLAIM_RETIRE
    urcu_memb_register_thread();
#endif
    for (;;) {
        struct weft__task *t;
        int r = steal(&t);
        if (r == WEFT_STEAL_OK) {
            thief_fifo_ok = thief_fifo_ok && t - tasks > last;
            last = t - tasks;
            record(t);
            thief_steals++;
        } else if (r == WEFT_STEAL_EMPTY) {
            /* acquire: the owner drained the deque before setting it. */
            if (atomic_load_explicit(&owner_done, memory_order_acquire))
                break;
            sched_yield();
        }
    }
#ifndef WEFT_RECLAIM_RETIRE
    urcu_memb_unregister_thread();
#endif
    return NULL;
}

/* The owner pushes all tasks in bursts and takes some back, then drains. */
static size_t owner_round(uint64_t *rng)
{
    size_t taken = 0, i = 0;
    while (i < NTASKS) {
        *rng ^= *rng << 13, *rng ^= *rng >> 7, *rng ^= *rng << 17;
        size_t burst = 1 + *rng % 64, back = (*rng >> 8) % (burst + 1);
        for (size_t k = 0; k < burst && i < NTASKS; k++)
            push(i++);
        for (size_t k = 0; k < back; k++) {
            struct weft__task *t = weft__deque_take(&dq, NULL);
            if (t == NULL)
                break;
            record(t);
            taken++;
        }
    }
    for (struct weft__task *t; (t = weft__deque_take(&dq, NULL)) != NULL; taken++)
        record(t);
    return taken;
}

Test(deque, owner_and_thief_consume_every_item_exactly_once)
{
    uint64_t rng = 0x9e3779b97f4a7c15u;
    size_t owner_taken = 0, total_steals = 0;
    for (int round = 0; round < CONC_ROUNDS; round++) {
        init(2);
        thief_steals = 0;
        atomic_store_explicit(&owner_done, 0, memory_order_relaxed); /* thief not started */
        for (size_t i = 0; i < NTASKS; i++)
            atomic_store_explicit(&seen[i], 0, memory_order_relaxed); /* likewise */
        pthread_t thief;
        cr_assert_eq(pthread_create(&thief, NULL, thief_main, NULL), 0);
        owner_taken += owner_round(&rng);
        /* release: the drain above happens before the thief stops. */
        atomic_store_explicit(&owner_done, 1, memory_order_release);
        cr_assert_eq(pthread_join(thief, NULL), 0);
        total_steals += thief_steals;
        for (size_t i = 0; i < NTASKS; i++) {
            /* relaxed: the thief was joined. */
            unsigned c = atomic_load_explicit(&seen[i], memory_order_relaxed);
            cr_assert_eq(c, 1, "round %d: task %zu consumed %u times", round, i, c);
        }
        cr_assert(thief_fifo_ok, "round %d: the thief's steals were not FIFO", round);
        weft__deque_fini(&dq);
    }
    cr_assert_eq(owner_taken + total_steals, (size_t)CONC_ROUNDS * NTASKS);
    cr_log_info("owner took %zu, thief stole %zu", owner_taken, total_steals);
}
