/* Running a call's work on a pool from any thread: weft_run's task and
 * parallel loops started from outside the pool (root.c). */
#ifndef WEFT_ROOT_H
#define WEFT_ROOT_H

#include "scheduler.h"

/* The work of one call, run as (or in the place of) worker w. */
typedef void (*weft__root_fn)(struct weft__worker *w, void *arg);

/* Run fn(w, arg) on p and return when it has returned. On a worker of p
 * it runs at once, on that worker. From any other thread it runs on the
 * calling thread in a parked worker's place if one is parked, else as a
 * root job a worker takes while the caller sleeps on its word [RT1].
 * Blocking: until fn returned. Returns WEFT_OK once fn ran; WEFT_ESHUTDOWN
 * or WEFT_EBROKEN (fn never runs) as weft__pool_admit. */
int weft__root_run(struct weft_pool *p, weft__root_fn fn, void *arg);

#endif
