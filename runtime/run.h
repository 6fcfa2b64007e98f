/* Running a task on a worker: frames (where the running task's part of
 * the deque and of the spawn stack start), and setting aside the
 * independent tasks a frame finds above its own work. */
#ifndef WEFT_RUN_H
#define WEFT_RUN_H

#include "worker.h"

/* Bookkeeping around running a task on w (deque and private-stack bases
 * for helping, the strict fork/join check). */
struct weft__frame {
    int64_t bottom;
    struct weft__slot *base;
};

/* Open a frame on w for a task about to run (saved: the outer frame's). */
void weft__frame_enter(struct weft__worker *w, struct weft__frame *saved);
/* Close it once the task returned: counts the task in w's statistics and
 * disposes of settled independent entries it left on top of the deque. */
void weft__frame_leave(struct weft__worker *w, const struct weft__frame *saved);
/* Run task t on w as a nested or top-level task (frame, statistics; the
 * spare w held, if any, is let go: w runs again). Owner only. */
void weft__run(struct weft__worker *w, struct weft__task *t);
/* Owner: take the newest dependent task of w's deque above index floor.
 * Independent tasks on the way are set aside: disposed of if settled
 * (task.h), else handed to the injection queue. NULL if there is none. */
struct weft__task *weft__take_dependent(struct weft__worker *w, int64_t floor);

#endif
