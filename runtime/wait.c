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
#include "wait.h"

/* An external waiter polls before it sleeps: 16 pauses (~0.6 us; a pause
 * measured 40 ns on the development VM), then sched_yield (which lets a
 * worker that the kernel placed on the waiter's CPU run at once) until 50 us
 * have passed. A result that arrives in that window costs the completer no wake
 * syscall and the waiter no wake-up latency (a futex round trip is ~10 us
 * on the development VM); after it, the waiter sleeps on the futex. */
#define EXTERNAL_PAUSES 16
#define EXTERNAL_POLL_NS 50000
/* A helping worker with nothing to run first retries for a short while:
 * its failed leapfrog steal asked the thief to publish its private
 * children, which happens at the thief's next spawn, usually within
 * nanoseconds (bounded: HELP_RETRIES rounds of HELP_PAUSES pauses, ~40 us).
 * Then it sleeps in slices so that new work is noticed: from 20 us doubling
 * to 1 ms. */
#define HELP_RETRIES 64
#define HELP_PAUSES 16
#define HELP_SLICE_MIN_NS 20000
#define HELP_SLICE_MAX_NS 1000000

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
 * it is one of w's own pool (a future of another pool runs on that pool's
 * workers). Tested by address, never through v: a worker of another pool
 * may be freed as soon as the awaited future completes. relaxed (both
 * loads): hints; a stale "not done" is the window weft__help_one
 * (worker.c) describes, and this check is what keeps it that small. */
static struct weft__worker *leap_target(const struct weft__worker *w,
                                        const struct weft__leap *leap)
{
    if (leap == NULL || leap->hint == NULL ||
        weft__phase_done(atomic_load_explicit(leap->word, memory_order_relaxed)))
        return NULL;
    struct weft__worker *v = atomic_load_explicit(leap->hint, memory_order_relaxed);
    const struct weft_pool *p = w->pool;
    uintptr_t off = (uintptr_t)v - (uintptr_t)p->workers;
    return v != NULL && off < (uintptr_t)p->n * sizeof *v ? v : NULL;
}

static int wait_helping(struct weft__worker *w, _Atomic uint32_t *word,
                        const struct weft__leap *leap, const struct timespec *deadline,
                        const struct weft__runner *runner)
{
    int64_t slice = HELP_SLICE_MIN_NS;
    unsigned retries = 0;
    for (;;) {
        if (weft__phase_done(load_acquire(word)))
            return WEFT_OK;
        /* The deadline is checked before every helping step: a queue full of
         * other work must not stretch a timed wait. */
        if (deadline != NULL && weft__deadline_passed(deadline))
            return weft__phase_done(load_acquire(word)) ? WEFT_OK : WEFT_ETIMEDOUT;
        if (weft__help_one(w, leap_target(w, leap))) {
            slice = HELP_SLICE_MIN_NS;
            retries = 0;
            continue;
        }
        /* Nothing else we may run: run the awaited work itself if it has not
         * started (past the nesting limits this is what keeps a chain of
         * nested waits on one worker from deadlocking). */
        if (runner != NULL && runner->run(runner->arg, w))
            continue;
        if (retries++ < HELP_RETRIES) {
            for (int i = 0; i < HELP_PAUSES; i++)
                weft__cpu_relax();
            continue;
        }
        /* Nothing we may run: sleep briefly on the word, then look again. */
        struct timespec until;
        slice_deadline(&until, deadline, slice);
        sleep_once(word, &until);
        if (slice < HELP_SLICE_MAX_NS)
            slice *= 2;
    }
}

int weft__word_wait_run(_Atomic uint32_t *word, const struct weft__leap *leap,
                        const struct timespec *deadline, const struct weft__runner *runner)
{
    if (weft__phase_done(load_acquire(word)))
        return WEFT_OK;
    struct weft__worker *w = weft__self;
    if (w != NULL)
        return wait_helping(w, word, leap, deadline, runner);
    return wait_external(word, deadline);
}

int weft__word_wait(_Atomic uint32_t *word, weft__leap_hint *leap,
                    const struct timespec *deadline)
{
    struct weft__leap l = {.hint = leap, .word = word};
    return weft__word_wait_run(word, &l, deadline, NULL);
}
