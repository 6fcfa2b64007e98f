/* Waits on a completion word (wait.h): on a worker, helping and
 * blocking; off a worker, helping in a parked worker's place (borrow.h)
 * and word.h's thread wait.
 *
 * A waiting worker first runs work the awaited work depends on (its own
 * task through the runner, its frame's children, the leapfrog target's
 * dependent tasks), then sleeps on the word; one that stays blocked lets a
 * spare worker run in its place (spare.h). The word's ordering is word.c's
 * ([WD1], [WD2]). */
#include <errno.h>
#include <limits.h>
#include <sched.h>

#include "borrow.h"
#include "futex.h"
#include "lazy.h"
#include "run.h"
#include "spare.h"
#include "steal.h"
#include "wait.h"

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
/* A thread that is no worker polls this long before it helps. */
#define HELP_OUTSIDE_AFTER_NS 5000
/* A worker that found no spare to take its place tries again this often. */
#define SPARE_RETRY_NS 1000000

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
 * loads): hints; a stale "not done" is the window help_one describes, and this check is what keeps it that small. */
static struct weft__worker *leap_target(const struct weft__worker *w,
                                        const struct weft__leap *leap)
{
    if (leap->hint == NULL ||
        weft__word_done(atomic_load_explicit(leap->word, memory_order_relaxed)))
        return NULL;
    struct weft__worker *v = atomic_load_explicit(leap->hint, memory_order_relaxed);
    const struct weft_pool *p = w->pool;
    uintptr_t off = (uintptr_t)v - (uintptr_t)p->workers;
    return v != NULL && off < (uintptr_t)p->nslots * sizeof *v ? v : NULL;
}

/* A helping wait runs only work that the awaited work depends on: never
 * an independent task, and never unrelated work, which (the greedy
 * rayon/TBB-without-isolation choice) deadlocks on dependencies that have
 * no cycle: A waits for B, A's wait picks up C, C waits for what A does
 * after its wait, and A can never resume under C. With own, the waiting
 * frame's dependent tasks (a sync waits for its children: they and their
 * descendants lie above the frame's marks, lazy.c). With leap, the
 * dependent tasks of the worker running the awaited work. Nothing past the
 * stack bound. Returns true if a task ran. */
static bool help_one(struct weft__worker *w, struct weft__worker *leap, bool own)
{
    if (!weft__stack_room(w))
        return false;
    struct weft__task *t = NULL;
    if (weft__lazy_asked(w))
        weft__publish_half(w);
    if (own) {
        int64_t floor;
        t = weft__lazy_take_own(w, &floor);
        if (t == NULL)
            t = weft__take_dependent(w, floor);
    }
    /* Leapfrogging: the thief of the work we wait for started it with an
     * empty deque (weft__leap_hint_set), so while that work runs its deque
     * holds only the work's descendants, of which the steal takes only
     * dependent ones. The one exception: the work ends after our caller's
     * check of its word and the thief, back in its loop, pushes unrelated
     * dependent work that this steal takes. That needs this thread to
     * stall between the check and the steal while the thief finishes the
     * work and starts another; and it deadlocks only if the stolen task
     * then waits for what the waiting task does after its wait. */
    if (t == NULL && leap != NULL && leap != w)
        t = weft__steal_dependent(w, leap);
    if (t == NULL)
        return false;
    weft__run(w, t);
    return true;
}

/* Run one task that h allows. The awaited task itself comes first: it is
 * what the wait needs most, and running it leaves nothing to steal. */
static bool help_step(struct weft__worker *w, const struct weft__help *h)
{
    if (h->runner.run != NULL && weft__stack_room(w) && h->runner.run(h->runner.arg, w))
        return true;
    return help_one(w, leap_target(w, &h->leap), h->own);
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
        weft__word_sleep(word, deadline);
        return true;
    }
    if (w->spare_ok)
        sleep_ns = *slice;
    struct timespec until;
    slice_deadline(&until, deadline, sleep_ns);
    weft__word_sleep(word, &until);
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
        if (weft__word_done(weft__word_load(word))) {
            weft__spare_release(w);
            return WEFT_OK;
        }
        /* The deadline is checked before every step: nothing stretches a
         * timed wait (and a timed wait runs no task at all). */
        if (deadline != NULL && weft__deadline_passed(deadline))
            return weft__word_done(weft__word_load(word)) ? WEFT_OK : WEFT_ETIMEDOUT;
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

/* An untimed helping wait on a thread that is no worker, while the
 * awaited work of h's pool has not started: take a parked worker's place
 * and run what h allows as that worker's own wait would (the awaited task
 * through the runner, the leapfrog target's dependent tasks), so the
 * caller runs the work it would otherwise sleep on while a worker's
 * thread sleeps on, and the pool keeps as many threads busy as it has
 * workers. Only untimed waits get here: a task run inline could outlast a
 * deadline. No parked worker means every worker is busy: the caller just
 * blocks then, and the busy workers reach the work. The place is given
 * back once nothing is left to run (the awaited task started elsewhere,
 * its dependent tasks gone): a caller that sleeps must not hold a worker
 * that a submit could wake. */
static void help_outside(_Atomic uint32_t *word, const struct weft__help *h)
{
    const struct weft__runner *r = &h->runner;
    struct weft__borrow b;
    if (r->pool == NULL || weft__borrow_begin_if(r->pool, r->ready, r->arg, &b) != WEFT_OK)
        return;
    while (!weft__word_done(weft__word_load(word)) && help_step(b.w, h))
        ;
    weft__borrow_end(&b);
}

/* The one entry of the three waits below. */
static int wait_word(_Atomic uint32_t *word, const struct weft__help *h,
                     const struct timespec *deadline, const struct weft__help *fallback)
{
    if (weft__word_done(weft__word_load(word)))
        return WEFT_OK;
    struct weft__worker *w = weft__self;
    if (w != NULL)
        return wait_worker(w, word, h, deadline, fallback);
    /* A wait that a short poll ends never borrows: taking and giving back
     * a worker's place costs more than a wait of a few microseconds (and
     * a wake of the worker's thread when work is left over), and a worker
     * that is awake takes a fresh task within that time. */
    if (h != NULL && deadline == NULL && !weft__word_poll(word, HELP_OUTSIDE_AFTER_NS))
        help_outside(word, h);
    return weft__word_wait_thread(word, deadline) ? WEFT_OK : WEFT_ETIMEDOUT;
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
