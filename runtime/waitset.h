/* The waiter object of waits on many futures (weft_wait, as_completed in
 * wait_many.c): one link per distinct future, registered as a watcher on
 * it, reporting completions in completion order (waitset.c). One consumer
 * thread at a time. */
#ifndef WEFT_WAITSET_H
#define WEFT_WAITSET_H

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <urcu/lfstack.h>

#ifdef WEFT_TSAN
#include <sanitizer/tsan_interface.h>
#endif

#include "future.h"

struct ws_link {
    struct weft__listener l; /* on the future's watcher stack */
    struct cds_lfs_node dnode; /* on the completed list [WS1] */
    struct ws_link *next;    /* on the ready queue */
    struct waitset *ws;      /* the waiter this link reports to */
    weft_future *f;          /* its future (see the Ordering block) */
    size_t index;            /* first position of f in the caller's array */
};

struct waitset {
    /* Written by completers. */
    alignas(WEFT_CACHE_LINE) _Atomic uint32_t word; /* [WS2] */
    struct __cds_lfs_stack done;                    /* [WS1] completed links */
    _Atomic size_t refs;                            /* [WS3] */
    _Atomic bool gone;                              /* [WS4] consumer done */

    /* Consumer-private. */
    alignas(WEFT_CACHE_LINE) struct ws_link *ready; /* FIFO of links to report */
    struct ws_link **ready_tail;
    size_t nlinks; /* distinct futures */
    size_t left;   /* links not yet popped */
    size_t undone; /* links[0..undone) are done: where scans start */
    struct ws_link links[];
};

/* A waiter on fs[0..n) (one link per distinct future, by first
 * occurrence), with a reference on each future if take_refs. NULL when
 * memory is short. */
struct waitset *weft__ws_create(weft_future *const *fs, size_t n, bool take_refs);
/* Next link whose future is done, in completion order, or NULL. */
struct ws_link *weft__ws_pop(struct waitset *ws);
/* Wait until a link may have completed since weft__ws_pop returned NULL.
 * help: the wait needs every future and has no deadline, so it may run
 * awaited tasks. Returns WEFT_OK (pop again), WEFT_ETIMEDOUT or
 * WEFT_EBROKEN (nothing left can complete). */
int weft__ws_block(struct waitset *ws, const struct timespec *deadline, bool help);
/* The consumer is done: mark the waiter gone and prune its links from the
 * futures that did not complete. The caller still holds its reference. */
void weft__ws_leave(struct waitset *ws);
/* Drop a reference on the waiter (the consumer's, or a link's). */
void weft__ws_put(struct waitset *ws);

#endif
