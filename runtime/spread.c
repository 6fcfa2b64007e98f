/* Placement nudge for unpinned workers (spread.h). */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "alloc.h"
#include "spread.h"

int weft__spread_init(struct weft_pool *p)
{
    cpu_set_t set;
    p->cpu_slots = 0;
    if (sched_getaffinity(0, sizeof(set), &set) == 0)
        for (int c = 0; c < CPU_SETSIZE; c++)
            if (CPU_ISSET(c, &set))
                p->cpu_slots = (unsigned)c + 1;
    if (p->cpu_slots == 0)
        return 0;
    p->cpu_busy = weft__aligned_alloc(WEFT_CACHE_LINE, sizeof(*p->cpu_busy) * p->cpu_slots);
    if (p->cpu_busy == NULL)
        return -ENOMEM;
    for (unsigned c = 0; c < p->cpu_slots; c++)
        /* relaxed: not shared until the workers start. */
        atomic_store_explicit(&p->cpu_busy[c].workers, 0, memory_order_relaxed);
    return 0;
}

void weft__spread_fini(struct weft_pool *p)
{
    free(p->cpu_busy);
}

/* Count w as busy on cpu; returns how many other workers were counted
 * there. relaxed (both RMWs here): placement hints, which only decide
 * whether to look for a free CPU; nothing is published with them. */
static uint32_t count_in(struct weft__worker *w, int cpu)
{
    struct weft_pool *p = w->pool;
    if (cpu < 0 || (unsigned)cpu >= p->cpu_slots)
        return 0;
    w->counted_cpu = cpu;
    return atomic_fetch_add_explicit(&p->cpu_busy[cpu].workers, 1, memory_order_relaxed);
}

static void count_out(struct weft__worker *w)
{
    if (w->counted_cpu < 0)
        return;
    atomic_fetch_sub_explicit(&w->pool->cpu_busy[w->counted_cpu].workers, 1,
                              memory_order_relaxed);
    w->counted_cpu = -1;
}

/* Unpinned workers of a pool that has a CPU for each: the ones nudged. A
 * pool with more workers than CPUs has no free CPU to spread to. */
static bool spreads(const struct weft__worker *w)
{
    return w->pu < 0 && w->pool->n <= w->pool->ncpus;
}

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

void weft__spread_enter(struct weft__worker *w)
{
    int cpu = sched_getcpu();
    if (spreads(w))
        (void)count_in(w, cpu);
    /* relaxed: a placement hint for other workers. */
    atomic_store_explicit(&w->busy_cpu, cpu, memory_order_relaxed);
}

void weft__spread(struct weft__worker *w)
{
    if (!spreads(w))
        return;
    int cpu = sched_getcpu();
    /* The common case costs one RMW on this CPU's counter: only a worker
     * that finds another one counted on its CPU scans the pool's workers
     * for the CPUs they leave free. */
    cpu_set_t set;
    if (count_in(w, cpu) != 0 &&
        /* Narrow the thread's current affinity (a start hook may have set
         * it) and restore exactly that at parking. */
        pthread_getaffinity_np(pthread_self(), sizeof(w->home), &w->home) == 0) {
        set = w->home;
        (void)busy_elsewhere(w, cpu, &set);
        if (CPU_COUNT(&set) > 0 &&
            pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0) {
            w->nudged = true;
            count_out(w);
            cpu = sched_getcpu();
            (void)count_in(w, cpu);
        }
    }
    /* relaxed: a placement hint for other workers. */
    atomic_store_explicit(&w->busy_cpu, cpu, memory_order_relaxed);
}

void weft__unspread(struct weft__worker *w)
{
    count_out(w);
    /* relaxed: a placement hint. */
    atomic_store_explicit(&w->busy_cpu, -1, memory_order_relaxed);
    if (w->nudged) {
        (void)pthread_setaffinity_np(pthread_self(), sizeof(w->home), &w->home);
        w->nudged = false;
    }
}

