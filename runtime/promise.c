/* Promises: futures with no task, completed by the program (weft.h). They
 * use the future's state word and its claim-then-complete protocol
 * (future.c [FU1]). */
#include <stdlib.h>

#include "future.h"
#include "scheduler.h"

int weft_promise_create(weft_future **out)
{
    if (out == NULL)
        return WEFT_EINVAL;
    weft_future *f = weft__future_new(NULL, 1);
    if (f == NULL)
        return WEFT_ENOMEM;
    *out = f;
    return WEFT_OK;
}

int weft_promise_set_running(weft_future *f)
{
    if (f == NULL || f->src->pool != NULL)
        return WEFT_EINVAL;
    /* relaxed: the CAS validates; starting publishes nothing. */
    uint32_t s = atomic_load_explicit(&f->state, memory_order_relaxed);
    while ((s & WEFT_ST_PHASE) == WEFT_PENDING && !(s & WEFT_ST_CLAIMED)) {
        if (atomic_compare_exchange_weak_explicit(&f->state, &s,
                                                  (s & ~WEFT_ST_PHASE) | WEFT_RUNNING,
                                                  memory_order_relaxed, memory_order_relaxed))
            return WEFT_OK;
    }
    if ((s & WEFT_ST_CLAIMED) && !weft__word_done(s)) {
        /* A cancel or a set_result is completing it right now. */
        weft__word_wait(&f->state, NULL);
        s = weft__future_state(f);
    }
    return (s & WEFT_ST_PHASE) == WEFT_CANCELLED ? WEFT_ECANCELED : WEFT_EALREADY;
}

static int promise_complete(weft_future *f, int status, void *value, weft_dtor value_dtor,
                            void *error, weft_dtor error_dtor)
{
    int rc = WEFT_OK;
    if (f == NULL || f->src->pool != NULL)
        rc = WEFT_EINVAL;
    else if (!weft__future_claim(f, WEFT__ALLOW(WEFT_PENDING) | WEFT__ALLOW(WEFT_RUNNING)))
        rc = WEFT_EALREADY;
    if (rc != WEFT_OK) {
        if (value_dtor)
            value_dtor(value);
        if (error_dtor)
            error_dtor(error);
        return rc;
    }
    f->result = value;
    /* A value destructor or an error goes to the box, which a promise
     * has in its source: this never fails. */
    if (value_dtor || error || error_dtor) {
        struct weft__outcome *o = weft__future_box(f);
        o->value_dtor = value_dtor;
        o->error = error;
        o->error_dtor = error_dtor;
    }
    f->status = status;
    /* Keep the future alive across callbacks even if one releases it. */
    weft_future_ref(f);
    weft__future_complete(f, WEFT_FINISHED | (status != 0 ? WEFT_ST_FAILED : 0));
    weft_future_release(f);
    return WEFT_OK;
}

int weft_promise_set_result(weft_future *f, void *value, weft_dtor value_dtor)
{
    return promise_complete(f, 0, value, value_dtor, NULL, NULL);
}

int weft_promise_set_error(weft_future *f, int status, void *error, weft_dtor error_dtor)
{
    if (status == 0) {
        if (error_dtor)
            error_dtor(error);
        return WEFT_EINVAL;
    }
    return promise_complete(f, weft__task_status_of(status), NULL, NULL, error, error_dtor);
}
