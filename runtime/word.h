/* The completion word: a 32-bit futex word whose low two bits are a phase
 * (weft.h's WEFT_PENDING .. WEFT_CANCELLED) that is "done" once it reaches
 * WEFT_FINISHED, and whose bit WEFT_WORD_WAITERS says someone sleeps on it.
 * Futures keep their state in one (future.h adds its own flag bits above
 * these); spawned children, parallel loops and wait sets complete one.
 *
 * This file knows nothing of workers: it completes a word, sleeps on it
 * once, and waits for it the way a thread that is no worker does. Waits on
 * a worker, which may help or need a spare, are the scheduler's (wait.h). */
#ifndef WEFT_WORD_H
#define WEFT_WORD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#define WEFT_WORD_PHASE 3u   /* the phase bits */
#define WEFT_WORD_WAITERS 4u /* someone sleeps (or is about to) on the word */

/* True if state s holds a done phase (WEFT_FINISHED or WEFT_CANCELLED). */
static inline bool weft__word_done(uint32_t s)
{
    return (s & WEFT_WORD_PHASE) >= 2u;
}

/* The word's value. acquire ([WD1] in word.c): a done phase read here
 * comes with everything the completer wrote before completing it. */
static inline uint32_t weft__word_load(_Atomic uint32_t *word)
{
    return atomic_load_explicit(word, memory_order_acquire);
}

/* Store final (a done phase plus flag bits) and wake sleepers if any.
 * Returns the previous value. The caller must keep the word's memory alive
 * until this returns. Any thread; never blocks. */
uint32_t weft__word_complete(_Atomic uint32_t *word, uint32_t final);

/* Sleep on the word once (setting WAITERS first) unless it is done. Returns
 * false if the absolute deadline (NULL: none) passed, true otherwise (done,
 * woken, or spurious: the caller checks again). */
bool weft__word_sleep(_Atomic uint32_t *word, const struct timespec *deadline);

/* Poll the word for about poll_ns, as a thread that is no worker does
 * before it sleeps (word.c: a few pauses, then sched_yield). Returns true
 * if it is done. Never sleeps. */
bool weft__word_poll(_Atomic uint32_t *word, int64_t poll_ns);

/* Wait until the word is done or the deadline (NULL: none) passes, as a
 * thread that is no worker: poll briefly, then sleep on the futex. EINTR and
 * spurious wakes never end it early. Returns true if the word is done. */
bool weft__word_wait_thread(_Atomic uint32_t *word, const struct timespec *deadline);

#endif
