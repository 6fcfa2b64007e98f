/* Done-callbacks (weft.h): listeners on the future's callback stack
 * (listeners.h), fired in registration order by the completer, or at once
 * when the future is already done. */
#include <stdlib.h>

#include "alloc.h"
#include "future.h"
#include "scheduler.h"

static _Atomic uint64_t callback_failures;

struct callback_node {
    struct weft__listener l;
    weft_callback cb;
    void *ud;
};

static void run_callback(weft_callback cb, weft_future *f, void *ud)
{
    if (cb(f, ud) != 0)
        /* relaxed: a statistic. */
        atomic_fetch_add_explicit(&callback_failures, 1, memory_order_relaxed);
}

static void fire_callback(struct weft__listener *l, weft_future *f)
{
    struct callback_node *n = weft_container_of(l, struct callback_node, l);
    if (f != NULL)
        run_callback(n->cb, f, n->ud);
    free(n);
}

int weft_future_add_done_callback(weft_future *f, weft_callback cb, void *ud)
{
    if (f == NULL || cb == NULL)
        return WEFT_EINVAL;
    if (weft_future_done(f)) {
        run_callback(cb, f, ud);
        return WEFT_OK;
    }
    struct callback_node *n = weft__malloc(sizeof(*n));
    if (n == NULL)
        return WEFT_ENOMEM;
    n->l.fire = fire_callback;
    n->cb = cb;
    n->ud = ud;
    if (!weft__future_listen(f, &n->l)) {
        free(n);
        run_callback(cb, f, ud);
    }
    return WEFT_OK;
}

uint64_t weft_callback_failures(void)
{
    /* relaxed: a statistic. */
    return atomic_load_explicit(&callback_failures, memory_order_relaxed);
}

