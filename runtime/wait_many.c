/* Waiting on many futures: weft_wait (FIRST_COMPLETED, FIRST_EXCEPTION,
 * ALL_COMPLETED) and the weft_as_completed iterator, on the waiter of
 * waitset.h. */
#include <stdlib.h>

#include "alloc.h"
#include "futex.h"
#include "waitset.h"

struct weft_as_completed {
    struct waitset *ws;
    struct timespec deadline; /* measured from begin() */
    bool has_deadline;
};

/* ---- weft_wait ---- */

static uint32_t load_state(const weft_future *f)
{
    /* acquire: pairs with the completion exchange (future.c [FU1]), so the
     * phase and the FAILED bit come with the outcome. */
    return atomic_load_explicit(&((weft_future *)f)->state, memory_order_acquire);
}

/* FIRST_EXCEPTION counts FINISHED futures with a failure, never cancels. */
static bool is_failure(uint32_t s)
{
    return (s & WEFT_ST_PHASE) == WEFT_FINISHED && (s & WEFT_ST_FAILED);
}

static bool goal_met(weft_return_when when, size_t ndone, size_t total, bool failed)
{
    switch (when) {
    case WEFT_FIRST_COMPLETED:
        return ndone > 0 || total == 0;
    case WEFT_FIRST_EXCEPTION:
        return failed || ndone == total;
    default:
        return ndone == total;
    }
}

/* One pass over fs: fill done[] (if not NULL) and evaluate the condition.
 * Duplicates count once per position, which gives the same answer. */
static bool snapshot(weft_future *const *fs, size_t n, weft_return_when when, bool *done)
{
    size_t ndone = 0;
    bool failed = false;
    for (size_t i = 0; i < n; i++) {
        uint32_t s = load_state(fs[i]);
        bool d = weft__word_done(s);
        if (done != NULL)
            done[i] = d;
        ndone += d;
        failed = failed || is_failure(s);
    }
    return goal_met(when, ndone, n, failed);
}

/* Consume completions until the condition holds or the deadline passes. */
static int wait_goal(struct waitset *ws, weft_return_when when, const struct timespec *deadline)
{
    size_t ndone = 0;
    bool failed = false;
    for (;;) {
        struct ws_link *k;
        while ((k = weft__ws_pop(ws)) != NULL) {
            ndone++;
            failed = failed || is_failure(load_state(k->f));
        }
        if (goal_met(when, ndone, ws->nlinks, failed))
            return WEFT_OK;
        int rc = weft__ws_block(ws, deadline, when == WEFT_ALL_COMPLETED);
        if (rc != WEFT_OK)
            return rc;
    }
}

static bool futures_valid(weft_future *const *fs, size_t n)
{
    if (fs == NULL)
        return n == 0;
    for (size_t i = 0; i < n; i++)
        if (fs[i] == NULL)
            return false;
    return true;
}

/* The result is decided by a final snapshot, so done[] and the return code
 * always agree: a future that completes just after the deadline is reported
 * done, and then the condition may hold after all. */
int weft_wait(weft_future *const *fs, size_t n, int64_t timeout_ns, weft_return_when when,
              bool *done)
{
    if (!futures_valid(fs, n) || (unsigned)when > WEFT_ALL_COMPLETED)
        return WEFT_EINVAL;
    struct timespec dl;
    bool has_dl = weft__deadline_in(&dl, timeout_ns);
    if (timeout_ns == 0 || snapshot(fs, n, when, NULL))
        return snapshot(fs, n, when, done) ? WEFT_OK : WEFT_ETIMEDOUT;
    int rc;
    if (n == 1) {
        /* Every condition means "done" for one future: wait on its own word
         * and register nothing (a polling loop then allocates nothing). */
        rc = weft__future_wait(fs[0], has_dl ? &dl : NULL);
    } else {
        struct waitset *ws = weft__ws_create(fs, n, false);
        if (ws == NULL)
            return WEFT_ENOMEM;
        rc = wait_goal(ws, when, has_dl ? &dl : NULL);
        weft__ws_leave(ws);
        weft__ws_put(ws);
    }
    if (snapshot(fs, n, when, done))
        return WEFT_OK;
    return rc == WEFT_EBROKEN ? WEFT_EBROKEN : WEFT_ETIMEDOUT;
}

/* ---- as_completed ---- */

/* The deadline is taken at this call, as Python documents ("from the
 * original call to as_completed"); CPython's generator actually starts the
 * clock at the first next() (futures-semantics.md 6 and 13 #21). */
int weft_as_completed_begin(weft_as_completed **out, weft_future *const *fs, size_t n,
                            int64_t timeout_ns)
{
    if (out == NULL || !futures_valid(fs, n))
        return WEFT_EINVAL;
    struct weft_as_completed *it = weft__malloc(sizeof(*it));
    if (it == NULL)
        return WEFT_ENOMEM;
    it->has_deadline = weft__deadline_in(&it->deadline, timeout_ns);
    it->ws = weft__ws_create(fs, n, true);
    if (it->ws == NULL) {
        free(it);
        return WEFT_ENOMEM;
    }
    *out = it;
    return WEFT_OK;
}

/* Done futures are yielded before the deadline is looked at, so a timeout
 * of 0 yields every future that is already done and then times out. After
 * WEFT_ETIMEDOUT the iterator stays usable: later calls return futures that
 * completed meanwhile, else WEFT_ETIMEDOUT again. */
int weft_as_completed_next(weft_as_completed *it, weft_future **f, size_t *index)
{
    if (it == NULL || f == NULL)
        return WEFT_EINVAL;
    struct waitset *ws = it->ws;
    bool timed_out = false;
    for (;;) {
        struct ws_link *k = weft__ws_pop(ws);
        if (k != NULL) {
            *f = k->f;
            if (index != NULL)
                *index = k->index;
            return WEFT_OK;
        }
        if (ws->left == 0)
            return WEFT_EOF;
        if (timed_out)
            return WEFT_ETIMEDOUT;
        /* One more drain after a timeout catches a completion at the wire.
         * Without a deadline the iterator awaits every member, so its wait
         * may run their tasks (weft__ws_block's help), as ALL_COMPLETED's:
         * a member that completes meanwhile is yielded once the task run
         * inline returns. */
        int rc = weft__ws_block(ws, it->has_deadline ? &it->deadline : NULL,
                                !it->has_deadline);
        if (rc == WEFT_EBROKEN)
            return rc;
        timed_out = rc == WEFT_ETIMEDOUT;
    }
}

void weft_as_completed_end(weft_as_completed *it)
{
    if (it == NULL)
        return;
    struct waitset *ws = it->ws;
    weft__ws_leave(ws);
    /* Releasing a future may free it, which discards a link of ours that a
     * concurrent prune kept; our own waiter reference keeps ws alive until
     * the ws_put below. */
    for (size_t j = 0; j < ws->nlinks; j++)
        weft_future_release(ws->links[j].f);
    weft__ws_put(ws);
    free(it);
}
