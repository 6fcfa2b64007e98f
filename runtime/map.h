/* The machinery of weft_map (map.c), shared with the lazy iterator
 * (mapiter.c): chunk tasks that claim tickets in input order, the rings of
 * task records and ticket outcomes, and the caller's retire/collect/stop
 * steps. map.c's header comment describes the scheme and its invariants
 * [MP1]-[MP4]. One caller thread drives a struct map_run. */
#ifndef WEFT_MAP_H
#define WEFT_MAP_H

#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "future.h"

/* Largest automatic chunk (see plan() in map.c). */
#define WEFT__MAP_AUTO_CHUNK_MAX 4096

#define WEFT__MAP_NO_TICKET SIZE_MAX

/* What the chunk tasks share. Item i reads in + (i mod in_wrap) * in_stride
 * and writes out + (i mod out_wrap) * out_stride; a wrap of 0 means none
 * (the arrays hold every item). A wrap is a multiple of chunk, so a chunk
 * never straddles the end of a ring. */
struct map_call {
    weft_elem_fn fn;
    void *ud;
    const char *in;
    size_t in_stride;
    char *out;
    size_t out_stride;
    size_t in_wrap, out_wrap;
    size_t chunk;
    _Atomic size_t n; /* [MP4] items; SIZE_MAX while an input callback has not ended */
    /* Written by every chunk task: a line pair of their own, away from the
     * fields above (read by every task) and the caller's bookkeeping in
     * struct map_run (written per task by the caller). */
    alignas(WEFT_CACHE_LINE) _Atomic uint64_t claims; /* [MP3] next ticket | CLAIMS_CLOSED */
    _Atomic size_t fail_min;  /* [MP2] lowest failing item seen, SIZE_MAX if none */
    alignas(WEFT_CACHE_LINE) char end_pad[1];
};

/* One submitted chunk task. The fields after `asked` are written by the
 * task [MP1]; the caller sets them to "nothing done" before submitting. */
struct map_task {
    struct map_call *call;
    weft_future *f;
    bool asked;    /* the caller requested its cancellation */
    bool ran;      /* chunk_task ran (not cancelled, pool not broken) */
    bool cut;      /* a cancellation request stopped it */
    size_t ticket; /* the chunk it claimed, WEFT__MAP_NO_TICKET if none */
    size_t stop;   /* first item of the chunk not completed */
    int status;    /* item `stop`'s status if it failed, else 0 */
};

/* A claimed chunk's outcome, kept by the caller until collected. */
struct map_ticket {
    bool done;
    size_t stop;
    int status;
};

/* Slot k % cap holds task k and ticket k: two rings of cap entries each. */
struct map_slot {
    struct map_task task;
    struct map_ticket ticket;
};

struct map_run {
    weft_pool *pool;
    struct map_call call;
    struct map_slot *ring;
    size_t cap;       /* W: ring slots */
    size_t nchunks;   /* SIZE_MAX while an input callback has not ended */
    size_t submitted; /* tasks submitted */
    size_t retired;   /* tasks waited for and released: [retired, submitted) are outstanding */
    size_t collected; /* tickets collected, in order */
    size_t released;  /* tickets whose items the caller is done with (<= collected) */
    bool no_more;     /* submit nothing more */
    bool stopping;    /* every outstanding task was asked to stop: wait without deadline */
    const struct timespec *deadline;
    int err;          /* first error that is not an item failure */
    bool failed;      /* an item failure was collected: fail_at, fail_status */
    size_t fail_at;
    int fail_status;
};

static inline size_t weft__map_clamp(size_t v, size_t lo, size_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Set the shared state of a call with n items (SIZE_MAX: not known yet)
 * before its first submission. */
void weft__map_call_init(struct map_call *c, size_t n);
/* Lowest failing item any chunk task has seen, SIZE_MAX if none [MP2]. */
static inline size_t weft__map_fail_hint(struct map_call *c)
{
    /* [MP2] relaxed: a hint only. */
    return atomic_load_explicit(&c->fail_min, memory_order_relaxed);
}
/* Record the first error that is not an item failure. */
void weft__map_note_error(struct map_run *r, int rc);
/* Stop for good: nothing more is submitted or claimed, every outstanding
 * task is asked to stop (once), and later waits have no deadline. */
void weft__map_stop_all(struct map_run *r);
/* The window: fewer than W tasks outstanding and fewer than W tickets not
 * released (every claimed ticket belongs to a submitted task). */
bool weft__map_can_submit(const struct map_run *r);
/* Submit the next chunk task; on failure note the error and stop. */
void weft__map_submit_next(struct map_run *r);
/* Wait for the oldest outstanding task (deadline unless stopping): on
 * WEFT_OK retire it and collect finished tickets in order; on a timeout note
 * WEFT_ETIMEDOUT and stop. A collected failure or error stops the run. */
void weft__map_step(struct map_run *r);
/* Ask every outstanding task to stop and wait for all of them, without a
 * deadline: afterwards no task of the run is running or will run. */
void weft__map_drain(struct map_run *r);
/* Read options of a struct_size-versioned options struct: defaults in
 * *dst (size bytes), then user's first user->struct_size bytes; reserved
 * words (nres of them at offset res_off) must be zero. */
int weft__map_read_options(void *dst, size_t size, const void *user, size_t res_off,
                           size_t nres);

#endif /* WEFT_MAP_H */
