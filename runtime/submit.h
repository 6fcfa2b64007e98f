/* Accepting work: the pool's count of accepted, unfinished tasks (life),
 * queueing a task where a worker will find it, and the drain that lets
 * workers exit once nothing accepted is left. */
#ifndef WEFT_SUBMIT_H
#define WEFT_SUBMIT_H

#include "worker.h"

/* Count one unit of work in life, unless the pool is stopped or broken:
 * shutdown then waits for its weft__life_sub. Returns WEFT_OK,
 * WEFT_ESHUTDOWN, WEFT_EBROKEN. Any thread. */
int weft__pool_admit(struct weft_pool *p);
/* Count n units at once (a bulk batch), with one RMW on life whatever the
 * thread. Returns as weft__pool_admit. */
int weft__pool_admit_n(struct weft_pool *p, uint64_t n);
/* Accept an independent task (a future's, or a root job that only goes
 * to the injection queue): counts it in life and queues it (a worker
 * of p: its own deque; otherwise: the injection queue, which starts tasks
 * in the order they were queued). Returns as weft__pool_admit. */
int weft__pool_accept(struct weft_pool *p, struct weft__task *t);
/* The queueing half of weft__pool_accept, for a task already admitted. */
void weft__pool_queue(struct weft_pool *p, struct weft__task *t);
/* Push t on w's own deque (flags: 0, or WEFT_DQ_INDEPENDENT) and wake an
 * idle worker if none is searching. If the deque cannot grow, t goes
 * through the injection queue instead. Owner only. */
void weft__push_local(struct weft__worker *w, struct weft__task *t, unsigned flags);
/* Queue independent task t on w's pool's injection queue (any worker
 * starts it) and wake an idle worker if none is searching. */
void weft__handoff(struct weft__worker *w, struct weft__task *t);
/* Count a finished accepted task (w's credit, batched into pool->life).
 * Owner only. */
void weft__task_finished(struct weft__worker *w);
/* Give w's credit back to life now (submit.c [PL4]). Owner only. */
void weft__worker_flush(struct weft__worker *w);
/* Subtract finished tasks from life; detects the drained pool. */
void weft__life_sub(struct weft_pool *p, uint64_t ntasks);
/* Stop accepting (and with cancel, make workers cancel what has not
 * started). Returns true if nothing accepted was left: the pool drained. */
bool weft__pool_stop(struct weft_pool *p, bool cancel);
/* Cancel and drop the independent tasks waiting in the injection queue
 * (their drop operation runs on this thread: callbacks may run here);
 * other tasks found there stay queued. */
void weft__pool_cancel_queued(struct weft_pool *p);
/* Mark the pool drained (STOP set, nothing accepted left): wakes the
 * shutdown waiters and tells the workers to exit. Idempotent. */
void weft__pool_set_drained(struct weft_pool *p);
/* Wait until the pool drained. Blocks (futex). */
void weft__pool_await_drained(struct weft_pool *p);
/* True if pool p's workers are cancelling unstarted submitted tasks. */
static inline bool weft__pool_cancelling(const struct weft_pool *p)
{
    /* relaxed: a flag; the cancel decision is made by the future's CAS. */
    return atomic_load_explicit(&((struct weft_pool *)p)->life, memory_order_relaxed) &
           WEFT_LIFE_CANCEL;
}
/* True if p was created before a fork() that made this process: its
 * workers do not exist here, and nothing it holds will ever complete. */
static inline bool weft__pool_inherited(const struct weft_pool *p)
{
    return weft_unlikely(p->forks != weft__fork_count());
}

#endif
