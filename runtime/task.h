/* The task record every queue holds: a header naming the operations of its
 * kind. Submitted futures, spawned children, parallel loop chunks and root
 * jobs embed this header; queues store pointers to it, never copies. The
 * scheduler reaches the kinds above it only through these operations.
 *
 * Two kinds of task. A dependent task is work some wait needs implicitly:
 * a spawned child (its group's sync waits for it) or a loop chunk. An
 * independent task is a submitted future: only a wait on its own handle
 * needs it, and that wait runs it through the handle. A helping wait may
 * run dependent tasks of the frame it waits in, never an independent task
 * it finds in a queue: that task may wait for what the waiting task does
 * after its wait (weft.h, "On a worker: helps"). Deques keep the kind in
 * each entry (deque.h, WEFT_DQ_INDEPENDENT). */
#ifndef WEFT_TASK_H
#define WEFT_TASK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <urcu/wfcqueue.h>

struct weft__worker;
struct weft__task;

struct weft__task_ops {
    /* Run the task on worker w (or, for a future that was cancelled or
     * already run through its handle, only dispose of the record). */
    void (*run)(struct weft__task *t, struct weft__worker *w);
    /* Independent tasks that shutdown may cancel (futures), else NULL.
     * Cancel and dispose of a queued task that no worker will run
     * (shutdown with cancel), on any thread. Returns how many accepted
     * tasks it stood for (a bulk batch: all of its futures), which the
     * caller subtracts from the pool's count. */
    uint64_t (*drop)(struct weft__task *t);
    /* Set for every independent task (it is what marks a task so), NULL
     * for dependent ones. Says, without side effects and
     * from any thread, that t no longer needs running: its handle already
     * ran or cancelled it, so run only drops the queue's reference. Helping
     * waits dispose of such entries instead of leaving them queued. */
    bool (*settled)(const struct weft__task *t);
};

/* Where a task records the worker to leapfrog onto: the worker that runs
 * it, set by weft__leap_hint_set (worker.h) before it starts, NULL until
 * then or when leapfrogging onto it would not be safe. A helping wait reads
 * it at every step (relaxed: a hint; wait.c, help_one). */
typedef _Atomic(struct weft__worker *) weft__leap_hint;

/* Where a helping wait leapfrogs: onto the worker in *hint, and only while
 * that work's completion word *word is not done (once it is, the thief may
 * be running unrelated work). hint NULL: nowhere. A wait on one word names
 * that word; a wait set names one of its futures, whose completion may
 * reach the set's word later (a pruner can hold the set's link,
 * listeners.c [LS3]). */
struct weft__leap {
    weft__leap_hint *hint;
    _Atomic uint32_t *word;
};

struct weft__task {
    const struct weft__task_ops *ops;
    struct cds_wfcq_node qnode; /* link in the injection queue */
};

#endif
