/* fork() detection (fork.h): a counter bumped by a pthread_atfork child
 * handler.
 *
 * Ordering: the child handler runs in the child's only thread before fork()
 * returns there, so everything the child does afterwards is sequenced after
 * the increment, and threads the child creates later are ordered after it
 * by pthread_create. In the parent the counter never changes after the
 * handler is registered. So relaxed accesses suffice. */
#include <pthread.h>
#include <stdatomic.h>

#include "fork.h"

static pthread_once_t watch_once = PTHREAD_ONCE_INIT;
static _Atomic uint32_t forks;

static void after_fork_child(void)
{
    /* relaxed: see the header comment. */
    atomic_store_explicit(&forks, atomic_load_explicit(&forks, memory_order_relaxed) + 1,
                          memory_order_relaxed);
}

static void watch(void)
{
    /* Only ENOMEM is possible; without the handler an inherited pool hangs
     * as it did before fork detection existed, nothing worse. */
    (void)pthread_atfork(NULL, NULL, after_fork_child);
}

void weft__fork_watch(void)
{
    pthread_once(&watch_once, watch);
}

uint32_t weft__fork_count(void)
{
    /* relaxed: see the header comment. */
    return atomic_load_explicit(&forks, memory_order_relaxed);
}
