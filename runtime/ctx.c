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
    if (ctx == NULL)
        return WEFT_EINVAL;
    if (ctx->future == NULL)
        return WEFT_EPERM;
    weft_future *f = ctx->future;
    if (f->error_dtor)
        f->error_dtor(f->error);
    f->error = err;
    f->error_dtor = err_dtor;
    return WEFT_OK;
}

int weft_ctx_set_result_dtor(weft_ctx *ctx, weft_dtor result_dtor)
{
    if (ctx == NULL)
        return WEFT_EINVAL;
    if (ctx->future == NULL)
        return WEFT_EPERM;
    ctx->future->result_dtor = result_dtor;
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

