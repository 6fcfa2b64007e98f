/* Spare workers: the compensation that keeps a pool's n threads running
 * while some of its workers are blocked in waits (Java ForkJoinPool's
 * managed blocking, Go's hand-off of a P from a blocked M).
 *
 * A worker whose wait finds nothing it may run inline (wait.c) blocks. The
 * tasks it cannot run (independent tasks on its deque, or work elsewhere in
 * the pool that the awaited task depends on) must still run, or a program
 * that completes with one thread per task could hang on weft. So a worker
 * that has been blocked for a while calls weft__spare_begin: spare k runs
 * as an ordinary worker while more than k workers are blocked, and is
 * parked again (on its own gate word) once no longer needed. At most
 * WEFT_SPARES_MAX spares exist per pool; their threads start on first need
 * and live until the pool is destroyed. */
#ifndef WEFT_SPARE_H
#define WEFT_SPARE_H

#include <stdbool.h>

#include "worker.h"

/* Spare slots of a pool of n workers (slots n .. n + spares). */
unsigned weft__spare_slots(unsigned n);
/* Worker w (any worker or borrower of its pool, on its own thread) has
 * been blocked in waits for a while: let one more spare run in its place,
 * starting its thread if needed, until weft__spare_release. The spare is
 * held across the waits of one stretch (a loop of short timed waits) and
 * let go when w runs a task again or goes idle. Never blocks for long (a
 * thread creation at most). Returns true if the spare of w's rank runs;
 * false if it could not be had (all WEFT_SPARES_MAX in use, or no memory
 * or thread for a new one): w still counts as blocked, and its next call
 * tries to start that spare again. */
bool weft__spare_hold(struct weft__worker *w);
/* Uncount w from the blocked workers (weft__spare_release's slow part). */
void weft__spare_end(struct weft__worker *w);
/* w runs again: its stretch of waiting ends, and its spare goes, if it
 * holds one. Owner only. */
static inline void weft__spare_release(struct weft__worker *w)
{
    w->wait_since = 0; /* a new stretch of waiting starts at its next block */
    if (weft_unlikely(w->spare_held)) {
        w->spare_held = false;
        w->spare_ok = false;
        weft__spare_end(w);
    }
}

/* True if w is a spare that is not needed now: it finishes the tasks on
 * its own deque and parks on its gate (spare.c [SP1]). Owner only. */
bool weft__spare_surplus(const struct weft__worker *w);
/* A surplus spare with an empty deque sleeps until it is needed again.
 * Returns false if the pool is exiting instead (the spare then leaves its
 * loop). Owner only. */
bool weft__spare_park(struct weft__worker *w);
/* Wake every parked spare so it sees the pool exiting (submit.c, after the
 * drain). */
void weft__spare_exit_all(struct weft_pool *p);
/* Join every spare thread that was started and free its queues. Called
 * once the pool drained and its workers were joined. */
void weft__spare_join_all(struct weft_pool *p);

#endif
