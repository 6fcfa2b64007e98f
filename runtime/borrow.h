/* A thread that is no worker taking a parked worker's place for one
 * blocking call (borrow.c explains why and how). */
#ifndef WEFT_BORROW_H
#define WEFT_BORROW_H

#include "run.h"

struct weft__borrow {
    struct weft__worker *w; /* the worker borrowed, or NULL */
    uintptr_t stack_limit;  /* the worker's own, restored at the end */
    struct weft__frame frame;
    bool rcu_registered;    /* registered with liburcu for this call only */
};

/* Become a parked worker of p until weft__borrow_end: b->w is then the
 * worker to run the call's work on, on this thread, and the call is
 * counted in p's life. Returns WEFT_OK; WEFT_EAGAIN if this thread is a
 * worker or no worker is parked (queue the work instead); WEFT_ESHUTDOWN
 * or WEFT_EBROKEN as weft__pool_admit. */
int weft__borrow_begin(struct weft_pool *p, struct weft__borrow *b);
/* weft__borrow_begin for a thread that holds no reference keeping p alive
 * (a waiter on one of p's futures: p may be destroyed as soon as its last
 * task is done). needed(arg, p) is read while p is pinned [BR4]: it must
 * return true only while some accepted task of p is still queued and
 * unstarted (so p is not drained), with an acquire load of what tells
 * it. Returns WEFT_EAGAIN, without touching p, if needed returned false. */
int weft__borrow_begin_if(struct weft_pool *p, bool (*needed)(void *arg, const struct weft_pool *p),
                          void *arg, struct weft__borrow *b);
/* Wait until no thread is between weft__borrow_begin_if's pin and its
 * unpin for p [BR4]. weft_pool_destroy calls it after the drain, before
 * the free. Sleeps in short slices; each pin lasts a few loads and RMWs. */
void weft__borrow_quiesce(struct weft_pool *p);
/* Give the worker back once the work is done and synced (its deque and
 * private stack hold nothing of the call); p may be freed right after. */
void weft__borrow_end(struct weft__borrow *b);

#endif
