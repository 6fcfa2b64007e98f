/* Waiting on a completion word (word.h) on any thread: the shared
 * blocking-or-helping wait behind futures, spawned children, parallel
 * loops and wait sets. On a worker a wait may run work the awaited work
 * depends on, and a worker that stays blocked lets a spare take its place
 * (spare.h). Off a worker it is word.h's thread wait, which an untimed
 * helping wait on unstarted work of a pool with a parked worker first
 * spends running that work in the parked worker's place (borrow.h). */
#ifndef WEFT_WAIT_H
#define WEFT_WAIT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "word.h"
#include "worker.h"

/* Optional hook for a helping wait: run(arg, w) runs the awaited work on
 * worker w if it has not started yet and returns true if it did. Off a
 * worker, an untimed wait with a pool borrows a parked worker of pool
 * (borrow.h) to run what it allows, if ready(arg, pool) says that some of
 * the awaited work of pool is queued and unstarted; ready is the needed
 * test of weft__borrow_begin_if, and must answer as it requires. */
struct weft__runner {
    bool (*run)(void *arg, struct weft__worker *w);
    bool (*ready)(void *arg, const struct weft_pool *pool);
    struct weft_pool *pool; /* NULL: a thread that is no worker only blocks */
    void *arg;
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
 * first runs what h allows, within the stack bound (worker.h,
 * weft__stack_room), and blocks as weft__word_wait once nothing is left.
 * Off a worker, if h->runner names a pool, has it ready and one of its
 * workers is parked, it takes that worker's place (weft__borrow_begin_if),
 * runs what h allows as that worker would, gives the place back once
 * nothing is left, and then blocks as weft__word_wait. Returns WEFT_OK. */
int weft__word_wait_help(_Atomic uint32_t *word, const struct weft__help *h);

#endif
