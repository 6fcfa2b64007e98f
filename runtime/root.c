/* A call's work on a pool from any thread (weft__root_run), and weft_run,
 * the way into fork/join from a thread that is not a worker.
 *
 * Ordering
 *   [RT1] A root job's caller sleeps on the job's completion word; the
 *         worker completes it with a release (word.c [WD1]) after fn
 *         returned, so every write fn made (weft_run's status and result,
 *         a loop's outputs) is visible to the caller once its wait sees
 *         the word done. The job lives in the caller's frame: the worker
 *         touches nothing of it after the completion. */
#include "root.h"

/* The job queued when no worker is parked for the caller to stand in for. */
struct root {
    struct weft__task task;
    _Atomic uint32_t word;
    weft__root_fn fn;
    void *arg;
};

static void root_job_run(struct weft__task *t, struct weft__worker *w)
{
    struct root *root = weft_container_of(t, struct root, task);
    root->fn(w, root->arg);
    weft__word_complete(&root->word, WEFT_FINISHED); /* [RT1]; root may vanish */
    weft__task_finished(w);
}

/* Queued, a root job is never settled: only a worker runs it. */
static bool root_job_settled(const struct weft__task *t)
{
    (void)t;
    return false;
}

/* A root job is an independent task that shutdown does not drop (its
 * caller waits for it: the call was accepted). */
static const struct weft__task_ops root_ops = {.run = root_job_run,
                                               .settled = root_job_settled};

int weft__root_run(struct weft_pool *p, weft__root_fn fn, void *arg)
{
    struct weft__worker *self = weft__self;
    if (self != NULL && self->pool == p) {
        fn(self, arg);
        return WEFT_OK;
    }
    struct weft__borrow b;
    int rc = weft__borrow_begin(p, &b);
    if (rc == WEFT_OK) {
        fn(b.w, arg);
        weft__borrow_end(&b);
        return WEFT_OK;
    }
    if (rc != WEFT_EAGAIN)
        return rc;
    struct root root = {.task = {.ops = &root_ops}, .fn = fn, .arg = arg};
    atomic_init(&root.word, WEFT_PENDING);
    rc = weft__pool_accept(p, &root.task);
    if (rc != WEFT_OK)
        return rc;
    weft__word_wait(&root.word, NULL); /* [RT1] */
    return WEFT_OK;
}

/* weft_run's task: its function, argument and what it gave back. */
struct run_call {
    weft_fn fn;
    void *arg;
    void *result;
    int status;
};

static void run_call_on(struct weft__worker *w, void *arg)
{
    struct run_call *call = arg;
    weft_future *outer = weft__ctx_swap(w, NULL);
    int status = call->fn(&w->ctx, call->arg, &call->result);
    weft__ctx_swap(w, outer);
    call->status = status != 0 ? weft__task_status_of(status) : 0;
}

int weft_run(weft_pool *pool, weft_fn fn, void *arg, void **result)
{
    if (pool == NULL || fn == NULL)
        return WEFT_EINVAL;
    struct run_call call = {.fn = fn, .arg = arg};
    int rc = weft__root_run(pool, run_call_on, &call);
    if (rc != WEFT_OK)
        return rc;
    if (call.status != 0)
        return weft__task_failed(call.status);
    if (result != NULL)
        *result = call.result;
    return WEFT_OK;
}
