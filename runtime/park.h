/* Idle workers: bounded searching, then parking on a per-worker futex,
 * without lost wake-ups (the protocol is described in park.c). */
#ifndef WEFT_PARK_H
#define WEFT_PARK_H

#include "worker.h"

/* Set up the idle-protocol state of a new pool. Returns 0 or -ENOMEM. */
int weft__park_init(struct weft_pool *p);
void weft__park_fini(struct weft_pool *p);
/* After making work visible (deque push, injection, publication): wake one
 * sleeper if no worker is searching. One seq_cst fence and one load; a
 * syscall only when a worker sleeps. Any thread. */
void weft__notify(struct weft_pool *p);
/* Wake every parked worker (the pool is exiting). Any thread. */
void weft__wake_all(struct weft_pool *p);
/* Worker w found nothing: search (bounded spin) and park. Returns a task if
 * it found one, NULL after waking up (the caller loops). Owner only. */
struct weft__task *weft__idle(struct weft__worker *w);
/* Leave the searching state after finding work (wakes another searcher if
 * w was the last one and workers sleep). Owner only. */
void weft__search_end(struct weft__worker *w);
/* Claim a parked worker for a thread that takes its place (borrow.c): the
 * worker's own thread sleeps on, no waker can claim it, and it no longer
 * counts as a sleeper. Workers only, never spare slots. Returns the worker,
 * or NULL if none is parked. */
struct weft__worker *weft__park_claim(struct weft_pool *p);
/* Give back a claimed worker: parked and claimable again, with the final
 * check of the parking protocol made on its behalf ([PK1] in park.c). */
void weft__park_return(struct weft__worker *w);

#endif
