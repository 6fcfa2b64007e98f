/* Placement nudge for unpinned workers (spread.h). */
#include <pthread.h>
#include <sched.h>

#include "spread.h"

/* Why: when a parked worker is woken by another busy worker, the kernel
 * often queues it on the waker's CPU and leaves the other (idle) vCPU idle
 * for several milliseconds (measured on the development VM: two workers
 * time-sharing one vCPU during a whole parallel loop, in about a third of
 * the runs). Pinning avoids it but is off by default; this nudge only acts
 * when two of our own busy workers share a CPU, and is undone at parking. */
/* The allowed CPUs no other busy worker reports; true if one of them is
 * this worker's cpu (a collision). */
static bool busy_elsewhere(struct weft__worker *w, int cpu, cpu_set_t *free_set)
{
    struct weft_pool *p = w->pool;
    bool shared = false;
    for (unsigned i = 0; i < p->n; i++) {
        /* relaxed: a placement hint; a stale value costs one extra move. */
        int other = atomic_load_explicit(&p->workers[i].busy_cpu, memory_order_relaxed);
        if (i == w->index || other < 0)
            continue;
        shared |= other == cpu;
        if (other < CPU_SETSIZE)
            CPU_CLR(other, free_set);
    }
    return shared;
}

void weft__spread(struct weft__worker *w)
{
    /* A pool with more workers than CPUs has no free CPU to spread to: it
     * saves the scan of every worker's busy_cpu. */
    if (w->pu >= 0 || w->pool->n > w->pool->ncpus)
        return;
    int cpu = sched_getcpu();
    cpu_set_t set;
    CPU_ZERO(&set);
    if (cpu >= 0 && busy_elsewhere(w, cpu, &set) &&
        /* Narrow the thread's current affinity (a start hook may have set
         * it) and restore exactly that at parking. */
        pthread_getaffinity_np(pthread_self(), sizeof(w->home), &w->home) == 0) {
        set = w->home;
        (void)busy_elsewhere(w, cpu, &set);
        if (CPU_COUNT(&set) > 0 &&
            pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0) {
            w->nudged = true;
            cpu = sched_getcpu();
        }
    }
    /* relaxed: a placement hint for other workers. */
    atomic_store_explicit(&w->busy_cpu, cpu, memory_order_relaxed);
}

void weft__unspread(struct weft__worker *w)
{
    /* relaxed: a placement hint. */
    atomic_store_explicit(&w->busy_cpu, -1, memory_order_relaxed);
    if (w->nudged) {
        (void)pthread_setaffinity_np(pthread_self(), sizeof(w->home), &w->home);
        w->nudged = false;
    }
}

