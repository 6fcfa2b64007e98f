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

#endif
