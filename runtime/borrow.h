/* A thread that is no worker taking a parked worker's place for one
 * blocking call (borrow.c explains why and how). */
#ifndef WEFT_BORROW_H
#define WEFT_BORROW_H

#include "run.h"

struct weft__borrow {
    struct weft__worker *w; /* the worker borrowed, or NULL */
    uintptr_t stack_limit;  /* the worker's own, restored at the end */
    struct weft__frame frame;
    bool rcu_registered;    /* registered with liburcu for this call */
};

/* Become a parked worker of p until weft__borrow_end: b->w is then the
 * worker to run the call's work on, on this thread, and the call is
 * counted in p's life. Returns WEFT_OK; WEFT_EAGAIN if this thread is a
 * worker or no worker is parked (queue the work instead); WEFT_ESHUTDOWN
 * or WEFT_EBROKEN as weft__pool_admit. */
int weft__borrow_begin(struct weft_pool *p, struct weft__borrow *b);
/* Give the worker back once the work is done and synced (its deque and
 * private stack hold nothing of the call); p may be freed right after. */
void weft__borrow_end(struct weft__borrow *b);

#endif
