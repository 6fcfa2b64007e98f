/* Closable, prunable listener stacks: how a future keeps its done-callbacks
 * and its wait-set links ("watchers") until it completes.
 *
 * Why not liburcu's cds_lfs (a lock-free stack with push and pop_all): a
 * future's stack must also *close* at completion, atomically with taking
 * what is on it, so that a push racing with completion either lands before
 * the close (and fires with the others) or fails (and the pusher fires its
 * listener itself). cds_lfs has no closed state, and its pop_all leaves the
 * stack open for pushes that would then never fire. The watchers are also
 * pruned (a wait set removes its stale links) while pushes go on. So the
 * stack is written here: a head word holding a node pointer, 0 (empty) or
 * WEFT__LSTACK_CLOSED. */
#ifndef WEFT_LISTENERS_H
#define WEFT_LISTENERS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "weft.h"

#define WEFT__LSTACK_CLOSED ((uintptr_t)1)

/* A listener fires once when its future is done, on the completing thread
 * (f != NULL), or is discarded when a never-completed future is freed
 * (f == NULL). fire owns l and may free it. */
struct weft__listener {
    struct weft__listener *next;
    void (*fire)(struct weft__listener *l, weft_future *f);
};

/* Push l. Returns false (and does not take l) if the stack is closed: the
 * future is done, and the caller acts on that (fires l itself). */
bool weft__lstack_push(_Atomic uintptr_t *head, struct weft__listener *l);
/* Close the stack and fire what was on it with f, oldest first (fifo) or
 * in no set order. Once per stack, by the future's completer. */
void weft__lstack_close_fire(_Atomic uintptr_t *head, weft_future *f, bool fifo);
/* Discard (fire with NULL) every listener still on a stack whose future
 * was never completed; the last reference is gone, so no thread pushes. */
void weft__lstack_discard(_Atomic uintptr_t *head);
/* Discard every listener l on the stack for which stale(l) holds, on this
 * thread; the others stay. If the stack closes during the call, the
 * listeners kept may fire on this thread (with f) instead of the
 * completer's. A listener that another thread is pruning at the same
 * moment is not seen, and stays until the next prune, the close or the
 * discard. Lock-free; the caller keeps f alive. */
void weft__lstack_prune(_Atomic uintptr_t *head, weft_future *f,
                        bool (*stale)(const struct weft__listener *l));

#endif
