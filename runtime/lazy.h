/* The private spawn stack (lazy publication) and the record of a spawned
 * child: the scheduler's own dependent task. The fork/join API (group.c)
 * and weft.h's inline fast paths put children here; the scheduler
 * publishes them to thieves on request (lazy.c explains the protocol). */
#ifndef WEFT_LAZY_H
#define WEFT_LAZY_H

#include <stdint.h>

#include "word.h"
#include "worker.h"

/* The runtime's part of a weft_child (its rt_ words), meaningful once the
 * child left the private stack (exposed). */
struct weft__child_rt {
    struct weft__task task;  /* deque entry once exposed */
    _Atomic uint32_t word;   /* completion word (word.h) once exposed */
    int status;              /* a stolen child's status */
    weft__leap_hint thief;   /* who ran it when stolen [GR3] in group.c */
};

static inline struct weft__child_rt *weft__child_rt(weft_child *c)
{
    return (struct weft__child_rt *)(void *)c->rt_;
}

/* Frame marks on the private stack (weft.h's WEFT__MARK): an odd word
 * holding the deque bottom at which the inline child's frame starts. */
static inline bool weft__is_mark(const weft_child *c)
{
    return ((uintptr_t)c & 1u) != 0;
}

static inline int64_t weft__mark_bottom(const weft_child *c)
{
    return (int64_t)((uintptr_t)c >> 1);
}

/* Run c's function on w, in the context of w's children. */
static inline int weft__child_call(struct weft__worker *w, weft_child *c)
{
    c->result_ = NULL;
    int s = c->fn_(w->lazy.ctx, c->arg_, &c->result_);
    return weft_likely(s == 0) ? 0 : weft__task_status_of(s);
}

/* Make a private child stealable: fill in its task header and completion
 * word (spawn leaves them unset while the child is private), count it in
 * w->lazy.open until its sync, and return the header to push. Owner (w)
 * only, before the push publishes it. */
struct weft__task *weft__child_expose(struct weft__worker *w, weft_child *c);
/* Expose c and push it on w's deque, waking an idle worker. Returns NULL;
 * or, when the deque cannot grow, c's task, for the caller to run. */
struct weft__task *weft__child_push(struct weft__worker *w, weft_child *c);
/* Move the running frame's private children onto the deque (oldest first)
 * so thieves can take them, clear steal_req, and wake a sleeper if needed.
 * Owner only. */
void weft__publish(struct weft__worker *w);
/* The same for the older half of them (rounded up): the answer to a
 * thief's request or to an idle worker; the owner keeps the newer half
 * private. Owner only. */
void weft__publish_half(struct weft__worker *w);
/* Double w's private stack. Returns false when memory is short. */
bool weft__lazy_grow(struct weft__worker *w);
/* Take child c back off the private stack if it is there (normally on
 * top), publishing the older children first if a thief asked. */
bool weft__lazy_take(struct weft__worker *w, weft_child *c);
/* For a helping wait of the running frame (a sync): take its newest
 * private child, exposed, and return it; or return NULL and set *floor to
 * the deque index above which the frame's own entries lie. */
struct weft__task *weft__lazy_take_own(struct weft__worker *w, int64_t *floor);

#endif
