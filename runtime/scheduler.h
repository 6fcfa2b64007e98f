/* The scheduler's interface to the task kinds above it (futures, groups,
 * wait sets, map, parallel loops) and to the pool's API: accept a task
 * record, run one, wait on a word while helping, borrow a worker, and the
 * spawn stack of fork/join. Nothing below this line knows what a
 * future is: it reaches the kinds only through their task records'
 * operations (task.h). */
#ifndef WEFT_SCHEDULER_H
#define WEFT_SCHEDULER_H

#include "borrow.h" /* weft__borrow_begin/end */
#include "lazy.h"   /* spawn stack, child records, publication */
#include "run.h"    /* frames, weft__run, weft__take_dependent, contexts */
#include "submit.h" /* admission, accept, finished counts, pool stop/drain */
#include "wait.h"   /* waits on a word: helping, blocking, spares */
#include "word.h"   /* the completion word */
#include "worker.h" /* the worker and pool records */

#endif
