/* Blocking and helping waits on a completion word.
 *
 * Ordering and invariants
 *   [WT1] complete: acq_rel exchange of the final value -> wait: acquire load
 *         that sees a done phase. Publishes the outcome written before it.
 *   [WT2] wait sets WAITERS with a CAS before sleeping; complete's exchange
 *         returns it and then wakes. Both act on one location, so either the
 *         CAS precedes the exchange (the completer sees WAITERS and wakes) or
 *         it fails (the waiter reloads and sees the done phase). A waiter
 *         that times out leaves WAITERS set: clearing it is unsafe with more
 *         waiters and costs at most one extra wake.
 *   Lifetime: the completer touches the word only until its wake returns;
 *   owners keep the memory alive at least that long (futures hold the
 *   runtime's reference until after completion). */
#include <errno.h>
#include <limits.h>
#include <sched.h>

#include "futex.h"
#include "future.h"
#include "pool.h"
#include "spare.h"
#include "wait.h"

/* An external waiter polls before it sleeps: 16 pauses (~0.6 us; a pause
 * measured 40 ns on the development VM), then sched_yield (which lets a
 * worker that the kernel placed on the waiter's CPU run at once) until 50 us
 * have passed. A result that arrives in that window costs the completer no wake
 * syscall and the waiter no wake-up latency (a futex round trip is ~10 us
 * on the development VM); after it, the waiter sleeps on the futex. */
#define EXTERNAL_PAUSES 16
#define EXTERNAL_POLL_NS 50000
/* A helping worker with nothing it may run first retries for a short
 * while: a failed leapfrog steal asked the thief to publish its private
 * children, which happens at the thief's next spawn, usually within
 * nanoseconds (bounded: WORKER_RETRIES rounds of WORKER_PAUSES pauses,
 * ~40 us). Then, and at once for a wait that runs nothing, it sleeps. Once
 * it has waited SPARE_AFTER_NS with no task run (a loop of short timed
 * waits counts as one wait), it publishes its own private children (others
 * may need them while it sleeps) and lets a spare worker run in its place
 * (spare.h). A helping wait then sleeps in slices (from 20 us doubling to
 * 1 ms) and looks for work in between; when it finds some it is no longer
 * blocked and the spare is let go. */
#define WORKER_RETRIES 64
#define WORKER_PAUSES 16
#define HELP_SLICE_MIN_NS 20000
#define HELP_SLICE_MAX_NS 1000000
/* A worker waiting this long with no task run lets a spare take its place:
 * long enough that a short wait costs no wake of another thread, short
 * against any work worth a thread. */
#define SPARE_AFTER_NS 50000
/* A worker that found no spare to take its place tries again this often. */
#define SPARE_RETRY_NS 1000000

static inline uint32_t load_acquire(_Atomic uint32_t *word)
{
    /* [WT1] acquire: pairs with the completer's exchange. */
    return atomic_load_explicit(word, memory_order_acquire);
}

uint32_t weft__word_complete(_Atomic uint32_t *word, uint32_t final)
{
    /* [WT1] acq_rel: release publishes the outcome; acquire orders the wake
     * after we learned about WAITERS [WT2]. */
    uint32_t old = atomic_exchange_explicit(word, final, memory_order_acq_rel);
    if (old & WEFT_ST_WAITERS)
        weft__futex_wake(word, INT_MAX);
    return old;
}

/* Sleep once on the word (setting WAITERS first). Returns -ETIMEDOUT when
 * the deadline passed, else 0 (done, woken, or spurious: caller re-checks). */
static int sleep_once(_Atomic uint32_t *word, const struct timespec *deadline)
{
    uint32_t s = load_acquire(word);
    if (weft__phase_done(s))
        return 0;
    if (!(s & WEFT_ST_WAITERS)) {
        /* [WT2] relaxed: the kernel re-checks the value atomically; a failed
         * CAS just means the word changed and we re-check. */
        if (!atomic_compare_exchange_strong_explicit(word, &s, s | WEFT_ST_WAITERS,
                                                     memory_order_relaxed,
                                                     memory_order_relaxed))
            return 0;
        s |= WEFT_ST_WAITERS;
    }
    int r = weft__futex_wait(word, s, deadline);
    return r == -ETIMEDOUT ? -ETIMEDOUT : 0;
}

static int wait_external(_Atomic uint32_t *word, const struct timespec *deadline)
{
    int64_t until = weft__now_ns() + EXTERNAL_POLL_NS;
    for (unsigned i = 0;; i++) {
        if (weft__phase_done(load_acquire(word)))
            return WEFT_OK;
        if (i < EXTERNAL_PAUSES) {
            weft__cpu_relax();
        } else if (weft__now_ns() < until) {
            sched_yield();
        } else {
            break;
        }
    }
    for (;;) {
        if (weft__phase_done(load_acquire(word)))
            return WEFT_OK;
        if (sleep_once(word, deadline) == -ETIMEDOUT)
            return weft__phase_done(load_acquire(word)) ? WEFT_OK : WEFT_ETIMEDOUT;
    }
}

static void slice_deadline(struct timespec *out, const struct timespec *deadline, int64_t slice)
{
    weft__deadline_in(out, slice);
    if (deadline != NULL && (deadline->tv_sec < out->tv_sec ||
                             (deadline->tv_sec == out->tv_sec && deadline->tv_nsec < out->tv_nsec)))
        *out = *deadline;
}

/* The worker to leapfrog onto: the hint's, while its work is not done, if
 * it is a slot of w's own pool (a future of another pool runs on that
 * pool's workers). Tested by address, never through v: a worker of another
 * pool may be freed as soon as the awaited future completes. relaxed (both
 * loads): hints; a stale "not done" is the window weft__help_one
 * (worker.c) describes, and this check is what keeps it that small. */
static struct weft__worker *leap_target(const struct weft__worker *w,
                                        const struct weft__leap *leap)
{
    if (leap->hint == NULL ||
        weft__phase_done(atomic_load_explicit(leap->word, memory_order_relaxed)))
        return NULL;
    struct weft__worker *v = atomic_load_explicit(leap->hint, memory_order_relaxed);
    const struct weft_pool *p = w->pool;
    uintptr_t off = (uintptr_t)v - (uintptr_t)p->workers;
    return v != NULL && off < (uintptr_t)p->nslots * sizeof *v ? v : NULL;
}

/* Run one task that h allows. The awaited task itself comes first: it is
 * what the wait needs most, and running it leaves nothing to steal. */
static bool help_step(struct weft__worker *w, const struct weft__help *h)
{
    if (h->runner.run != NULL && weft__stack_room(w) && h->runner.run(h->runner.arg, w))
        return true;
    return weft__help_one(w, leap_target(w, &h->leap), h->own);
}

/* Start of the stretch of waiting w is in: it began at w's first block
 * since it last ran a task (weft__spare_release ends a stretch), so a loop
 * of short timed waits is one stretch. */
static int64_t waiting_since(struct weft__worker *w, int64_t now)
{
    if (w->wait_since == 0)
        w->wait_since = now;
    return w->wait_since;
}

/* Sleep on the word once. Until a spare holds the worker's place, the
 * sleep ends when one is due; then a helping wait sleeps in slices and
 * looks for work in between, and any other sleeps until done or its
 * deadline. */
/* Returns false if the worker needs a spare and none could be had. */
static bool block_once(struct weft__worker *w, _Atomic uint32_t *word,
                       const struct timespec *deadline, int64_t *slice, bool helping)
{
    bool spare = true;
    int64_t now = weft__now_ns();
    int64_t due = waiting_since(w, now) + SPARE_AFTER_NS;
    int64_t sleep_ns = due - now;
    if (now >= due) {
        /* Before every sleep: a spare or thief may need our private
         * children (a timed wait answers no steal request otherwise). */
        weft__publish(w);
        /* Without a spare (none left, or none could be started), look
         * again after a while: a thread may be had then. */
        if (!weft__spare_hold(w)) {
            sleep_ns = SPARE_RETRY_NS;
            spare = false;
        }
    }
    if (w->spare_ok && !helping) {
        sleep_once(word, deadline);
        return true;
    }
    if (w->spare_ok)
        sleep_ns = *slice;
    struct timespec until;
    slice_deadline(&until, deadline, sleep_ns);
    sleep_once(word, &until);
    if (w->spare_ok && *slice < HELP_SLICE_MAX_NS)
        *slice *= 2;
    return spare;
}

/* A spare taken in a wait stays until the worker runs a task again (the
 * waiting task resumes: weft__run, help_step, or its worker goes idle), so a
 * loop of short timed waits keeps one spare running the work it polls
 * for; a wait that ends done lets it go at once. */
static int wait_worker(struct weft__worker *w, _Atomic uint32_t *word,
                       const struct weft__help *h, const struct timespec *deadline,
                       const struct weft__help *fallback)
{
    int64_t slice = HELP_SLICE_MIN_NS;
    unsigned retries = 0;
    for (;;) {
        if (weft__phase_done(load_acquire(word))) {
            weft__spare_release(w);
            return WEFT_OK;
        }
        /* The deadline is checked before every step: nothing stretches a
         * timed wait (and a timed wait runs no task at all). */
        if (deadline != NULL && weft__deadline_passed(deadline))
            return weft__phase_done(load_acquire(word)) ? WEFT_OK : WEFT_ETIMEDOUT;
        if (h != NULL && help_step(w, h)) {
            weft__spare_release(w); /* it ran a task: the spare may go */
            slice = HELP_SLICE_MIN_NS;
            retries = 0;
            continue;
        }
        if (h != NULL && retries++ < WORKER_RETRIES) {
            for (int i = 0; i < WORKER_PAUSES; i++)
                weft__cpu_relax();
            continue;
        }
        /* No spare could take our place: rather than hang, run the
         * awaited work ourselves (weft.h: the degraded mode). */
        if (!block_once(w, word, deadline, &slice, h != NULL) && fallback != NULL &&
            help_step(w, fallback))
            weft__spare_release(w);
    }
}

/* The one entry of the three waits below. */
static int wait_word(_Atomic uint32_t *word, const struct weft__help *h,
                     const struct timespec *deadline, const struct weft__help *fallback)
{
    if (weft__phase_done(load_acquire(word)))
        return WEFT_OK;
    struct weft__worker *w = weft__self;
    if (w != NULL)
        return wait_worker(w, word, h, deadline, fallback);
    return wait_external(word, deadline);
}

int weft__word_wait(_Atomic uint32_t *word, const struct timespec *deadline)
{
    return wait_word(word, NULL, deadline, NULL);
}

int weft__word_wait_help(_Atomic uint32_t *word, const struct weft__help *h)
{
    return wait_word(word, h, NULL, NULL);
}

int weft__word_wait_fallback(_Atomic uint32_t *word, const struct timespec *deadline,
                             const struct weft__help *fallback)
{
    return wait_word(word, NULL, deadline, fallback);
}
