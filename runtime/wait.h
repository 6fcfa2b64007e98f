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

/* Optional hook for a helping wait: run(arg, w) runs the awaited work on
 * worker w if it has not started yet and returns true if it did. */
struct weft__runner {
    bool (*run)(void *arg, struct weft__worker *w);
    void *arg;
};

/* Where a helping wait leapfrogs: onto the worker in *hint, and only while
 * that work's completion word *word is not done (once it is, the thief may
 * be running unrelated work). hint NULL: nowhere. A wait on one word names
 * that word; a wait set names one of its futures, whose completion may
 * reach the set's word later (a pruner can hold the set's link, future.c
 * [FU4]). */
struct weft__leap {
    weft__leap_hint *hint;
    _Atomic uint32_t *word;
};

/* What a helping wait may run, all of it work the awaited work depends on:
 * the awaited task itself (runner), the waiting frame's dependent tasks
 * (own: a sync's children), and the dependent tasks of the worker running
 * the awaited work (leap). */
struct weft__help {
    struct weft__runner runner; /* run NULL: none */
    struct weft__leap leap;     /* hint NULL: none */
    bool own;
};

/* Wait until the word's phase is done or the absolute deadline (NULL:
 * none) passes, running no task. Off a worker it spins briefly, then
 * sleeps on the futex. On a worker it sleeps too; one that stays blocked
 * lets a spare worker take its place meanwhile (spare.h), so the tasks it
 * leaves queued still run. EINTR and spurious wakes never end it early.
 * Returns WEFT_OK or WEFT_ETIMEDOUT. On WEFT_OK the caller has acquired
 * everything the completer wrote before weft__word_complete. */
int weft__word_wait(_Atomic uint32_t *word, const struct timespec *deadline);

/* weft__word_wait, but a worker that needs a spare to take its place and
 * can get none (all WEFT_SPARES_MAX in use, or no memory or thread for
 * one) runs what fallback allows meanwhile, rather than hang. */
int weft__word_wait_fallback(_Atomic uint32_t *word, const struct timespec *deadline,
                             const struct weft__help *fallback);

/* Wait, without a deadline, until the word's phase is done. On a worker it
 * first runs what h allows, within the stack bound (pool.h,
 * weft__stack_room), and blocks as weft__word_wait once nothing is left.
 * Off a worker it is weft__word_wait. Returns WEFT_OK. */
int weft__word_wait_help(_Atomic uint32_t *word, const struct weft__help *h);

/* Store final (a done phase plus flag bits) and wake sleepers if any.
 * Returns the previous value. The caller must keep the word's memory alive
 * until this returns. */
uint32_t weft__word_complete(_Atomic uint32_t *word, uint32_t final);

#endif
