/* The task record every queue holds: a header with the function that runs
 * it. Submitted tasks (futures), spawned children and parallel_for chunks
 * embed this header; queues store pointers to it, never copies.
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

#include <stdbool.h>
#include <urcu/wfcqueue.h>

struct weft__worker;
struct weft__task;

/* Run (or, for cancelled futures, dispose of) the task on worker w. */
typedef void (*weft__exec_fn)(struct weft__task *t, struct weft__worker *w);

struct weft__task {
    weft__exec_fn exec;         /* what to do when a worker picks it up */
    struct cds_wfcq_node qnode; /* link in the injection queue (submits only) */
};

/* Says, without side effects and from any thread, that independent task
 * t no longer needs running: its handle already ran or cancelled it, so
 * exec only drops the queue's reference. Helping waits dispose of such
 * entries instead of leaving them on the deque (worker.c). Each pool has
 * one (pool.h): every independent task on its deques is of one kind. */
typedef bool (*weft__settled_fn)(const struct weft__task *t);

#endif
