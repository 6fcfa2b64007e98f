/* fork() in a process that uses weft.
 *
 * fork() copies only the calling thread, so in the child every pool created
 * before the fork has no workers. Such a pool is "inherited": every call
 * that would wait for its workers returns WEFT_EBROKEN instead of hanging
 * (pool.c, future.c, waitset.c). A pool created in the child works
 * normally; it keeps old deque buffers until it is destroyed (the retire
 * list) instead of freeing them after RCU grace periods: liburcu's reader
 * registry still lists the parent's threads, one of which may have been
 * inside a read-side section at the fork. */
#ifndef WEFT_FORK_H
#define WEFT_FORK_H

#include <stdint.h>

/* Start counting forks (idempotent, any thread). Called at pool creation:
 * a process that never created a pool has nothing to protect. */
void weft__fork_watch(void);
/* How many fork()s separate this process from the one that first called
 * weft__fork_watch (0 there). A pool records it at creation; a different
 * value later means the pool was inherited through fork(). */
uint32_t weft__fork_count(void);

#endif
