/* A worker thread's loop: run own tasks, poll the injection queue, steal,
 * go idle. */
#ifndef WEFT_LOOP_H
#define WEFT_LOOP_H

/* The function every worker and spare thread runs (pool->thread_main);
 * arg is its struct weft__worker. */
void *weft__worker_main(void *arg);

#endif
