/* The task record every queue holds: a header with the function that runs
 * it. Submitted tasks (futures), spawned children and parallel_for chunks
 * embed this header; queues store pointers to it, never copies. */
#ifndef WEFT_TASK_H
#define WEFT_TASK_H

#include <urcu/wfcqueue.h>

struct weft__worker;
struct weft__task;

/* Run (or, for cancelled futures, dispose of) the task on worker w. */
typedef void (*weft__exec_fn)(struct weft__task *t, struct weft__worker *w);

struct weft__task {
    weft__exec_fn exec;         /* what to do when a worker picks it up */
    struct cds_wfcq_node qnode; /* link in the injection queue (submits only) */
};

#endif
