/* Running a task on a worker (run.h). */
#include "run.h"
#include "spare.h"
#include "submit.h"

/* Drop the queue's reference to a settled independent task: its run
 * operation runs no task function (task.h), so it needs no frame. */
static void dispose_settled(struct weft__worker *w, struct weft__task *t)
{
    t->ops->run(t, w);
}

/* Owner: dispose of the settled independent tasks on top of the running
 * frame's part of the deque (their handles ran them inline). */
static void discard_settled(struct weft__worker *w)
{
    while (weft__deque_bottom(&w->dq) > w->ctx.lazy.bottom &&
           weft__deque_peek_flags(&w->dq) == WEFT_DQ_INDEPENDENT) {
        struct weft__task *t = weft__deque_take(&w->dq, NULL);
        if (t == NULL)
            return;
        if (!t->ops->settled(t)) {
            /* Still to run: back on top, where it was. */
            weft__push_local(w, t, WEFT_DQ_INDEPENDENT);
            return;
        }
        dispose_settled(w, t);
    }
}

void weft__frame_enter(struct weft__worker *w, struct weft__frame *saved)
{
    saved->bottom = w->ctx.lazy.bottom;
    saved->base = w->ctx.lazy.base;
    w->ctx.lazy.bottom = weft__deque_bottom(&w->dq);
    w->ctx.lazy.base = w->ctx.lazy.top;
}

void weft__frame_leave(struct weft__worker *w, const struct weft__frame *saved)
{
    /* Strict fork/join: a task that returns with unsynced children leaves
     * their result pointers aimed at a dead stack frame. Debug builds stop
     * right here. The task's unsynced children, private or exposed, are
     * the slots above its base. */
    if (w->ctx.lazy.top != w->ctx.lazy.base)
        WEFT_DEBUG_FAIL("a task returned without weft_sync() of its spawned children");
    if (weft_unlikely(weft__deque_bottom(&w->dq) > w->ctx.lazy.bottom))
        discard_settled(w);
    w->ctx.lazy.bottom = saved->bottom;
    w->ctx.lazy.base = saved->base;
    weft__stat_inc(&w->st_tasks);
}

void weft__run(struct weft__worker *w, struct weft__task *t)
{
    weft__spare_release(w); /* running again: the spare may go */
    struct weft__frame saved;
    weft__frame_enter(w, &saved);
    t->ops->run(t, w);
    weft__frame_leave(w, &saved);
}

struct weft__task *weft__take_dependent(struct weft__worker *w, int64_t floor)
{
    while (weft__deque_bottom(&w->dq) > floor) {
        unsigned flags;
        struct weft__task *t = weft__deque_take(&w->dq, &flags);
        if (t == NULL || !(flags & WEFT_DQ_INDEPENDENT))
            return t;
        /* Set aside: run it if it only needs disposing (no user code
         * runs), else hand it to the injection queue, where any worker
         * starts it, so that the dependent tasks below come within reach. */
        if (t->ops->settled(t))
            dispose_settled(w, t);
        else
            weft__handoff(w, t);
    }
    return NULL;
}
