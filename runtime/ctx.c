/* What a task asks of its context (weft.h's weft_ctx_*): cancellation,
 * its error and result destructor, its pool and worker. */
#include "future.h"
#include "scheduler.h"

bool weft_ctx_cancel_requested(const weft_ctx *ctx)
{
    if (ctx == NULL)
        return false;
    if (ctx->future != NULL &&
        /* relaxed: a polled flag. */
        (atomic_load_explicit(&ctx->future->state, memory_order_relaxed) & WEFT_ST_CANCEL_REQ))
        return true;
    return weft__pool_cancelling(ctx->worker->pool);
}

int weft_ctx_set_error(weft_ctx *ctx, void *err, weft_dtor err_dtor)
{
    if (ctx == NULL || ctx->future == NULL) {
        if (err_dtor)
            err_dtor(err);
        return ctx == NULL ? WEFT_EINVAL : WEFT_EPERM;
    }
    struct weft__outcome *o = weft__future_box(ctx->future);
    if (o == NULL) {
        if (err_dtor)
            err_dtor(err);
        return WEFT_ENOMEM;
    }
    if (o->error_dtor)
        o->error_dtor(o->error);
    o->error = err;
    o->error_dtor = err_dtor;
    return WEFT_OK;
}

int weft_ctx_set_result_dtor(weft_ctx *ctx, weft_dtor result_dtor)
{
    if (ctx == NULL)
        return WEFT_EINVAL;
    if (ctx->future == NULL)
        return WEFT_EPERM;
    struct weft__outcome *o = weft__future_box(ctx->future);
    if (o == NULL)
        return WEFT_ENOMEM;
    o->value_dtor = result_dtor;
    return WEFT_OK;
}

weft_pool *weft_ctx_pool(const weft_ctx *ctx)
{
    return ctx ? ctx->worker->pool : NULL;
}

unsigned weft_ctx_worker(const weft_ctx *ctx)
{
    return ctx ? ctx->worker->index : 0;
}

