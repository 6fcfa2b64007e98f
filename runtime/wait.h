/* Waiting on a 32-bit completion word: the shared blocking-or-helping wait
 * behind futures, spawned children, parallel loops and wait sets.
 *
 * A completion word uses the future layout (future.h): the low two bits are
 * a phase that is "done" once >= WEFT_FINISHED, bit WEFT_ST_WAITERS says
 * someone sleeps on it. The completer publishes with weft__word_complete. */
#ifndef WEFT_WAIT_H
#define WEFT_WAIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

struct weft__worker;

/* Where the awaited work records the worker to leapfrog onto: the thief
 * that runs it, set by weft__leap_hint_set (pool.h) before it starts, NULL
 * until then or when leapfrogging onto it would not be safe. A helping wait
 * reads it at every step (relaxed: a hint; see worker.c, weft__help_one). */
typedef _Atomic(struct weft__worker *) weft__leap_hint;

/* Wait until the word's phase is done or the absolute deadline (NULL: none)
 * passes. On a worker thread it runs other tasks meanwhile (the deque of the
 * worker in *leap, if any, right after its own), never blocking while it may
 * run work; off-worker it spins briefly then sleeps on the futex. EINTR and
 * spurious wakes never end it early. leap may be NULL.
 * Returns WEFT_OK or WEFT_ETIMEDOUT. On WEFT_OK the caller has acquired
 * everything the completer wrote before weft__word_complete. */
int weft__word_wait(_Atomic uint32_t *word, weft__leap_hint *leap,
                    const struct timespec *deadline);

/* Optional hook for a helping wait: run(arg, w) runs the awaited work on
 * worker w if it has not started yet and returns true if it did. */
struct weft__runner {
    bool (*run)(void *arg, struct weft__worker *w);
    void *arg;
};

/* Where a helping wait leapfrogs: onto the worker in *hint, and only while
 * that work's completion word *word is not done (once it is, the thief may
 * be running unrelated work). hint NULL: nowhere. weft__word_wait passes its
 * own word; a wait set names one of its futures, whose completion may reach
 * the set's word later (a pruner can hold the set's link, future.c [FU4]). */
struct weft__leap {
    weft__leap_hint *hint;
    _Atomic uint32_t *word;
};

/* weft__word_wait with a leap target of its own (NULL: none) and a runner
 * (NULL: none). */
int weft__word_wait_run(_Atomic uint32_t *word, const struct weft__leap *leap,
                        const struct timespec *deadline, const struct weft__runner *runner);

/* Store final (a done phase plus flag bits) and wake sleepers if any.
 * Returns the previous value. The caller must keep the word's memory alive
 * until this returns. */
uint32_t weft__word_complete(_Atomic uint32_t *word, uint32_t final);

#endif
