/* Fork/join groups (group.c): what the other task kinds use besides
 * weft.h's API. */
#ifndef WEFT_GROUP_H
#define WEFT_GROUP_H

#include "weft.h"

/* weft_spawn, but the child is published at once (no lazy publication):
 * for loops whose leaves run long, so a thief never waits for a leaf to
 * end. Same returns. */
int weft__spawn_eager(weft_group *g, weft_fn fn, void *arg, void **result);

/* The operations of a batch of published children (lazy.c publishes them,
 * the pool names these as its batch_ops): run the batch, splitting off
 * its newer half whenever a thief asks. */
extern const struct weft__task_ops weft__batch_ops;

struct weft__worker;
/* Call call(w, arg) on worker w (this thread's) as a frame of its own: a
 * mark on w's spawn stack, so that the syncs and waits inside it reach none
 * of the private children the caller spawned before (siblings of the
 * call's work, which may wait for it). */
void weft__run_marked(struct weft__worker *w, void (*call)(struct weft__worker *w, void *arg),
                      void *arg);

#endif
