/* Placement nudge for unpinned workers. weft__spread is called when a
 * worker leaves its idle state with work: if another busy worker of the
 * pool is counted on the same CPU (per-CPU counts, so the common case
 * reads no other worker), it narrows this thread's affinity to the
 * allowed CPUs no busy worker uses, so the kernel moves it there at once.
 * weft__unspread restores the affinity before the worker parks. Both are
 * no-ops for pinned workers; owner only. */
#ifndef WEFT_SPREAD_H
#define WEFT_SPREAD_H

#include "worker.h"

void weft__spread(struct weft__worker *w);
void weft__unspread(struct weft__worker *w);
/* A worker thread starting busy on its CPU (no nudge). Owner only. */
void weft__spread_enter(struct weft__worker *w);
/* The pool's per-CPU counts of busy workers. Returns 0 or -ENOMEM. */
int weft__spread_init(struct weft_pool *p);
void weft__spread_fini(struct weft_pool *p);

#endif
