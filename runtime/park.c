/* Idle workers: bounded searching, then parking on a per-worker futex,
 * without lost wake-ups.
 *
 * The problem. A worker that finds no work must stop using CPU, yet a task
 * submitted while it is deciding to sleep must never sit unnoticed. Waking a
 * worker on every submit costs a syscall per task; spinning forever starves
 * the thread we wait for on a 2-vCPU machine.
 *
 * Rejected: one shared eventcount futex (an RMW on a shared line per push and
 * a thundering herd); a Treiber stack of sleeping worker ids (needs ABA tags).
 *
 * The protocol (Go's proc.go and tokio's idle.rs, with rayon's re-check):
 *   pool->idle packs {sleepers: low 32 bits, searchers: high 32 bits}.
 *   parked_mask has bit w set while worker w sleeps and is claimable.
 *
 *   Submitter (external)               Worker going to sleep
 *   --------------------               ---------------------
 *   enqueue task (xchg)                idle += sleeper (-searcher)   [seq_cst]
 *   fence(seq_cst)          [PK1]      park = PARKED; set mask bit   [seq_cst]
 *   s = load idle                      fence(seq_cst)                 [PK1]
 *   if searchers(s) == 0 &&            if any queue non-empty: cancel
 *      sleepers(s) > 0: wake_one       else futex_wait(park, PARKED)
 *
 * [PK1] is a store-buffering pair: at least one side sees the other's store,
 * so either the submitter sees the sleeper and wakes it, or the sleeper's
 * final check sees the task. Dropping either fence lets both miss (a task
 * left queued with every worker asleep).
 *
 * A submitter that sees searchers > 0 does not wake anyone: every searcher
 * either parks (and passes the final check above) or finds work and leaves
 * searching [PK2]: fetch_sub searchers (seq_cst), then, if it was the last
 * searcher and work is visible while workers sleep, it wakes one (the Go and
 * tokio cascade). [PK2] pairs with [PK1] of the submitter the same way.
 *
 * Pushes onto a worker's own deque run the same steps as external submits
 * (one seq_cst fence and a load, about 5 ns). rayon skips the fence for
 * internal pushes and accepts a missed wake, which then needs a timed park
 * as a safety net; here the hot path of fork/join does not push at all
 * (spawned children stay private until a thief asks, group.c), so the fence
 * is cheap and parked workers sleep without a timeout: an idle pool makes no
 * wake-ups at all, and a lost wake-up would be a bug, not a delay.
 *
 * wake_one claims a sleeper by CAS-clearing its mask bit (so each sleeper is
 * claimed once), moves it from sleepers to searchers [PK3], then exchanges
 * park = NOTIFIED and makes the futex syscall only if the worker was really
 * PARKED [PK4]. A worker whose final check cancels its sleep must CAS its own
 * bit out; if that fails a waker already owns it and it waits for NOTIFIED.
 * Tests: tests/stress/wakeup_stress.c (idle gaps, then bursts of submits;
 * a lost wake-up hangs, and its watchdog fails the run). */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>

#include "alloc.h"
#include "futex.h"
#include "park.h"
#include "spare.h"
#include "spread.h"
#include "steal.h"

#define SLEEPER 1ull
#define SEARCHER (1ull << 32)
#define PARK_RUNNING 0u
#define PARK_PARKED 1u
#define PARK_NOTIFIED 2u
/* A worker that may not search (enough others do) looks this many more
 * times, yielding in between, before it parks. With one thread submitting
 * tiny tasks one at a time (weft_map with chunk 1, a streaming producer),
 * parking at once made every task a park/wake pair: a searcher that found
 * work woke the parked worker ([PK2] cascade), which found nothing and
 * parked again, and each wake is a futex syscall of about 10 us on the
 * development VM. weft_map over 1 M items with chunk 1 on 2 workers parked
 * about 3,900 times per worker and took 270-670 ms; with 4 looks, 10-60
 * parks and 230-280 ms. The yields keep it from taking a CPU that the
 * producer needs. */
#define NONSEARCHER_LOOKS 4

static inline uint32_t sleepers(uint64_t s)
{
    return (uint32_t)s;
}

static inline uint32_t searchers(uint64_t s)
{
    return (uint32_t)(s >> 32);
}

int weft__park_init(struct weft_pool *p)
{
    p->mask_words = (p->nslots + 63) / 64;
    p->parked_mask = weft__calloc(p->mask_words, sizeof(*p->parked_mask));
    if (p->parked_mask == NULL)
        return -ENOMEM;
    /* relaxed: not shared until the workers start. */
    atomic_store_explicit(&p->idle, 0, memory_order_relaxed);
    return 0;
}

void weft__park_fini(struct weft_pool *p)
{
    free(p->parked_mask);
}

static void notify(struct weft__worker *w)
{
    /* [PK4] release: the waker's earlier updates (idle counts, queued task)
     * are visible to the worker's acquire load of park. */
    uint32_t prev = atomic_exchange_explicit(&w->park, PARK_NOTIFIED, memory_order_release);
    if (prev == PARK_PARKED) {
        weft__futex_wake(&w->park, 1);
        /* A busy worker that woke a sleeper lets it run at once if the
         * kernel queued it on this CPU: it does so when the sleeper last
         * ran here (its previous CPU), and the woken worker then finds
         * this CPU shared and moves itself to a free one (spread.c).
         * Without the yield it waited for the kernel's balancer, up to
         * 1.7 ms of a 4 ms parallel loop with one worker idle (measured on
         * the development VM, 2 runs of 12). A sleeper that parked on
         * another CPU goes back there if it is idle, so no yield is made
         * then. relaxed: a placement hint written by the sleeper as it
         * parked. */
        if (weft__self != NULL &&
            atomic_load_explicit(&w->park_cpu, memory_order_relaxed) == sched_getcpu())
            sched_yield();
    }
}

/* Claim one parked worker: clear its bit, so it is claimed once, and move
 * it out of the sleepers by adding idle_delta. Only slots [0, limit) are
 * claimed. Returns it, or NULL. */
static struct weft__worker *claim_parked(struct weft_pool *p, uint64_t idle_delta,
                                         unsigned limit)
{
    for (unsigned i = 0; i < p->mask_words && i * 64 < limit; i++) {
        uint64_t allow = limit - i * 64 >= 64 ? ~0ull : (1ull << (limit - i * 64)) - 1;
        /* relaxed: the CAS below decides; a stale value only costs a retry. */
        uint64_t m = atomic_load_explicit(&p->parked_mask[i], memory_order_relaxed);
        while (m & allow) {
            uint64_t bit = (m & allow) & -(m & allow);
            /* acq_rel: claims the sleeper; acquire pairs with the parker's
             * seq_cst bit set (or weft__park_return's), so its park =
             * PARKED store, and all it did before, are visible. */
            if (atomic_compare_exchange_weak_explicit(&p->parked_mask[i], &m, m & ~bit,
                                                      memory_order_acq_rel,
                                                      memory_order_relaxed)) {
                /* [PK3] acq_rel: the claimed worker stops counting as a
                 * sleeper (and, when woken, counts as a searcher before it
                 * runs), so submitters stop waking others for this work. */
                atomic_fetch_add_explicit(&p->idle, idle_delta, memory_order_acq_rel);
                return &p->workers[i * 64 + (unsigned)__builtin_ctzll(bit)];
            }
        }
    }
    return NULL;
}

/* Claim one parked worker and wake it as a searcher. */
static bool wake_one(struct weft_pool *p)
{
    struct weft__worker *w = claim_parked(p, SEARCHER - SLEEPER, p->nslots);
    if (w == NULL)
        return false;
    notify(w);
    return true;
}

struct weft__worker *weft__park_claim(struct weft_pool *p)
{
    /* -SLEEPER wraps: one sleeper less; the borrower is no searcher. A
     * borrower takes a worker's slot only, never a spare's: a spare must
     * stay free to start running when a worker blocks. */
    return claim_parked(p, -SLEEPER, p->n);
}

void weft__wake_all(struct weft_pool *p)
{
    while (wake_one(p))
        ;
}

void weft__notify(struct weft_pool *p)
{
    /* [PK1] the push or enqueue must be ordered before this load. */
    weft__fence_seq_cst(p);
    /* relaxed: ordered by the fence. */
    uint64_t s = atomic_load_explicit(&p->idle, memory_order_relaxed);
    if (sleepers(s) != 0 && searchers(s) == 0)
        wake_one(p);
}

/* The final check of [PK1] and [PK2]: is any task queued? It reads the
 * deques of workers that are not parked only. A worker sets its parked bit
 * after finding its own deque empty and pushes nothing until it is claimed
 * (only the owner pushes), so the deque of a worker whose bit is set is
 * empty. A borrower clears the bit (claim_parked) before it pushes, and
 * makes this check itself when it sets the bit again (weft__park_return).
 * relaxed (the mask words): our caller's seq_cst fence orders these loads
 * after its own stores, and a claim's clear precedes the claimer's pushes
 * and their notify's fence: if that fence comes first in the fences'
 * order, we see the clear (and the push); if ours does, the claimer's
 * notify sees our sleeper or searcher count. So a parked pool of n
 * workers costs one load per 64 workers here, not two per worker. */
static bool work_visible(struct weft_pool *p)
{
    if (!weft__inject_empty(&p->inj))
        return true;
    /* acquire [SP2] (spare.c): the slots below live are initialized. */
    unsigned live = atomic_load_explicit(&p->live, memory_order_acquire);
    for (unsigned base = 0; base < live; base += 64) {
        uint64_t awake = ~atomic_load_explicit(&p->parked_mask[base / 64], memory_order_relaxed);
        if (live - base < 64)
            awake &= (1ull << (live - base)) - 1;
        for (; awake != 0; awake &= awake - 1) {
            unsigned i = base + (unsigned)__builtin_ctzll(awake);
            if (weft__deque_nonempty(&p->workers[i].dq))
                return true;
        }
    }
    return false;
}

void weft__park_return(struct weft__worker *w)
{
    struct weft_pool *p = w->pool;
    /* seq_cst: part of [PK1], as in park(): a sleeper again before the bit. */
    atomic_fetch_add_explicit(&p->idle, SLEEPER, memory_order_seq_cst);
    /* seq_cst: part of [PK1]; its release half hands everything the
     * borrower did with w's state to the next claimer (claim_parked). */
    atomic_fetch_or_explicit(&p->parked_mask[w->index / 64], 1ull << (w->index % 64),
                             memory_order_seq_cst);
    /* [PK1] the bit before the final check, made here on the sleeper's
     * behalf: work the borrower left (a future it submitted) or an exit
     * that wake_all may have missed while the bit was clear wakes someone. */
    weft__fence_seq_cst(p);
    /* acquire: pairs with weft__pool_set_drained's release store. */
    if (atomic_load_explicit(&p->exiting, memory_order_acquire))
        weft__wake_all(p);
    else if (weft__deque_nonempty(&w->dq) || work_visible(p))
        wake_one(p); /* w's deque first: work_visible skips parked workers */
}

void weft__search_end(struct weft__worker *w)
{
    if (!w->searching)
        return;
    struct weft_pool *p = w->pool;
    w->searching = false;
    /* [PK2] seq_cst RMW, then a seq_cst fence: the queue checks below are
     * plain or acquire loads, which C11 lets move before the RMW without
     * the fence; it pairs with the submitter's [PK1] fence. */
    uint64_t old = atomic_fetch_sub_explicit(&p->idle, SEARCHER, memory_order_seq_cst);
    weft__fence_seq_cst(p);
    if (searchers(old) == 1 && sleepers(old) != 0 && work_visible(p))
        wake_one(p);
}

/* Become a searcher unless half the awake workers already search (tokio). */
static bool try_search(struct weft__worker *w)
{
    struct weft_pool *p = w->pool;
    if (w->searching)
        return true;
    /* relaxed: a heuristic throttle; the CAS keeps the count exact. */
    uint64_t s = atomic_load_explicit(&p->idle, memory_order_relaxed);
    do {
        /* Parked spares count as sleepers too: awake is at least 0. */
        uint32_t awake = sleepers(s) < p->n ? p->n - sleepers(s) : 0;
        if (searchers(s) != 0 && 2 * searchers(s) >= awake)
            return false;
    } while (!atomic_compare_exchange_weak_explicit(&p->idle, &s, s + SEARCHER,
                                                    memory_order_seq_cst, memory_order_relaxed));
    w->searching = true;
    return true;
}

/* One look for work; ask: as weft__steal_any. */
static struct weft__task *look_once(struct weft__worker *w, bool ask)
{
    struct weft__task *t = weft__deque_take(&w->dq, NULL);
    if (t == NULL)
        t = weft__inject_take(&w->pool->inj);
    if (t == NULL)
        t = weft__steal_any(w, ask);
    return t;
}

/* Search for up to spin_us with growing pauses, then a few yields; a worker
 * that may not search looks a few times only (NONSEARCHER_LOOKS). */
static struct weft__task *search(struct weft__worker *w)
{
    struct weft_pool *p = w->pool;
    if (!try_search(w)) {
        for (int i = 0;; i++) {
            struct weft__task *t = look_once(w, i == NONSEARCHER_LOOKS);
            if (t != NULL || i == NONSEARCHER_LOOKS)
                return t;
            sched_yield();
        }
    }
    int64_t until = weft__now_ns() + (int64_t)p->opts.spin_us * 1000;
    unsigned pauses = 1;
    for (;;) {
        struct weft__task *t = look_once(w, true);
        if (t != NULL) {
            weft__search_end(w);
            return t;
        }
        /* acquire: pairs with weft__pool_set_drained's release store. */
        if (atomic_load_explicit(&p->exiting, memory_order_acquire))
            return NULL;
        if (weft__now_ns() >= until)
            return NULL;
        if (pauses < 16) {
            for (unsigned i = 0; i < pauses; i++)
                weft__cpu_relax();
            pauses *= 2;
        } else {
            sched_yield();
        }
    }
}

/* Try to take our own bit back. True: we are no longer claimable. */
static bool unclaim_self(struct weft__worker *w)
{
    struct weft_pool *p = w->pool;
    _Atomic uint64_t *word = &p->parked_mask[w->index / 64];
    uint64_t bit = 1ull << (w->index % 64);
    /* acq_rel: the clear competes with wake_one's CAS for the same bit. */
    uint64_t old = atomic_fetch_and_explicit(word, ~bit, memory_order_acq_rel);
    if (!(old & bit))
        return false;
    /* relaxed: the count only has to be exact; publication is by the bit. */
    atomic_fetch_sub_explicit(&p->idle, SLEEPER, memory_order_relaxed);
    return true;
}

/* A waker claimed us: wait for its NOTIFIED (it is imminent). */
static void await_notified(struct weft__worker *w)
{
    /* acquire: pairs with [PK4]. */
    while (atomic_load_explicit(&w->park, memory_order_acquire) == PARK_PARKED)
        weft__futex_wait(&w->park, PARK_PARKED, NULL);
    w->searching = true; /* the waker counted us as a searcher [PK3] */
}

static void sleep_parked(struct weft__worker *w)
{
    atomic_store_explicit(&w->st_parks,
                          atomic_load_explicit(&w->st_parks, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    /* acquire: pairs with [PK4]. No timeout: every path that makes work
     * visible notifies (see the header), and shutdown wakes everyone. */
    while (atomic_load_explicit(&w->park, memory_order_acquire) == PARK_PARKED)
        weft__futex_wait(&w->park, PARK_PARKED, NULL);
    w->searching = true; /* woken by a waker, counted as a searcher [PK3] */
}

static void park(struct weft__worker *w)
{
    struct weft_pool *p = w->pool;
    /* relaxed: a placement hint for wakers (notify). */
    atomic_store_explicit(&w->park_cpu, sched_getcpu(), memory_order_relaxed);
    weft__unspread(w);
    uint64_t delta = SLEEPER - (w->searching ? SEARCHER : 0);
    w->searching = false;
    /* seq_cst: part of [PK1]: count ourselves a sleeper before the bit. */
    atomic_fetch_add_explicit(&p->idle, delta, memory_order_seq_cst);
    /* relaxed: published to wakers by the seq_cst bit set below. */
    atomic_store_explicit(&w->park, PARK_PARKED, memory_order_relaxed);
    atomic_fetch_or_explicit(&p->parked_mask[w->index / 64], 1ull << (w->index % 64),
                             memory_order_seq_cst);
    /* [PK1] our sleeper state before the final check of the queues. */
    weft__fence_seq_cst(p);
    /* acquire: pairs with weft__pool_set_drained's release store. */
    if (work_visible(p) || atomic_load_explicit(&p->exiting, memory_order_acquire)) {
        if (!unclaim_self(w))
            await_notified(w);
    } else {
        sleep_parked(w);
    }
    /* relaxed: only the owner reads its park word outside the protocol. */
    atomic_store_explicit(&w->park, PARK_RUNNING, memory_order_relaxed);
}

struct weft__task *weft__idle(struct weft__worker *w)
{
    struct weft_pool *p = w->pool;
    for (;;) {
        /* acquire: pairs with weft__pool_set_drained's release store. */
        if (atomic_load_explicit(&p->exiting, memory_order_acquire)) {
            if (w->searching) {
                w->searching = false;
                atomic_fetch_sub_explicit(&p->idle, SEARCHER, memory_order_relaxed);
            }
            return NULL;
        }
        /* A spare no longer needed leaves the protocol (spare.h), handing
         * on what it may owe: a wake-up it was counted a searcher for
         * [PK2], or work whose submitter found no one to claim because
         * this spare had just taken its own bit back in park(). */
        if (weft__spare_surplus(w)) {
            weft__search_end(w);
            /* [PK1] the surplus decision before the final look. */
            weft__fence_seq_cst(p);
            if (work_visible(p))
                wake_one(p);
            return NULL;
        }
        struct weft__task *t = search(w);
        if (t != NULL)
            return t;
        park(w);
        /* Move off a busy worker's CPU before stealing, not after: a thief
         * that holds stolen work while the kernel migrates it (to a vCPU
         * the host must first wake) makes its victim wait at the sync. A
         * borrowing caller's loop of a few microseconds waited 40 us more
         * for its stolen half that way (borrow.c). */
        weft__spread(w);
    }
}
