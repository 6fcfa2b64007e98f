/* Placement nudge for unpinned workers. weft__spread is called when a
 * worker leaves its idle state with work: if another busy worker of the
 * pool reports the same CPU, it narrows this thread's affinity to the
 * allowed CPUs no busy worker uses, so the kernel moves it there at once.
 * weft__unspread restores the affinity before the worker parks. Both are
 * no-ops for pinned workers; owner only. */
#ifndef WEFT_SPREAD_H
#define WEFT_SPREAD_H

#include "worker.h"

void weft__spread(struct weft__worker *w);
void weft__unspread(struct weft__worker *w);

#endif
