/* hwloc topology: one load per process, restricted to the process binding
 * (hwloc ignores taskset otherwise, and a bind would escape it). */
#include <errno.h>
#include <hwloc.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "pool.h"
#include "topology.h"

static pthread_once_t topo_once = PTHREAD_ONCE_INIT;
static hwloc_topology_t topo; /* NULL if hwloc failed: no pinning, flat victims */

static void topo_load(void)
{
    hwloc_topology_t t;
    if (hwloc_topology_init(&t) != 0)
        return;
    hwloc_topology_set_flags(t, HWLOC_TOPOLOGY_FLAG_IS_THISSYSTEM |
                                    HWLOC_TOPOLOGY_FLAG_RESTRICT_TO_CPUBINDING |
                                    HWLOC_TOPOLOGY_FLAG_DONT_CHANGE_BINDING);
    if (hwloc_topology_load(t) != 0) {
        hwloc_topology_destroy(t);
        return;
    }
    topo = t; /* published by pthread_once */
}

static hwloc_topology_t get_topo(void)
{
    pthread_once(&topo_once, topo_load);
    return topo;
}

unsigned weft__topology_cpus(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
        return (unsigned)CPU_COUNT(&set);
    return 1;
}

/* The allowed PUs, in logical (compact) order. */
static int allowed_pus(hwloc_topology_t t, int **out)
{
    int n = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PU);
    int *pus = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
    if (pus == NULL)
        return -ENOMEM;
    hwloc_const_cpuset_t allowed = hwloc_topology_get_allowed_cpuset(t);
    int k = 0;
    for (int i = 0; i < n; i++) {
        hwloc_obj_t pu = hwloc_get_obj_by_type(t, HWLOC_OBJ_PU, (unsigned)i);
        if (hwloc_bitmap_isset(allowed, pu->os_index))
            pus[k++] = (int)pu->os_index;
    }
    *out = pus;
    return k;
}

static int plan_scatter(hwloc_topology_t t, unsigned n, int *pus)
{
    hwloc_bitmap_t *sets = calloc(n, sizeof(*sets));
    if (sets == NULL)
        return -ENOMEM;
    hwloc_obj_t root = hwloc_get_root_obj(t);
    hwloc_distrib(t, &root, 1, sets, n, INT32_MAX, 0);
    for (unsigned i = 0; i < n; i++) {
        pus[i] = -1;
        if (sets[i]) {
            hwloc_bitmap_singlify(sets[i]);
            pus[i] = hwloc_bitmap_first(sets[i]);
            hwloc_bitmap_free(sets[i]);
        }
    }
    free(sets);
    return 0;
}

int weft__topology_plan(weft_pin pin, unsigned n, int *pus)
{
    for (unsigned i = 0; i < n; i++)
        pus[i] = -1;
    if (pin == WEFT_PIN_NONE)
        return 0;
    hwloc_topology_t t = get_topo();
    if (t == NULL)
        return 0; /* no topology: run unpinned */
    if (pin == WEFT_PIN_SCATTER)
        return plan_scatter(t, n, pus);
    int *allowed;
    int k = allowed_pus(t, &allowed);
    if (k < 0)
        return k;
    for (unsigned i = 0; i < n && k > 0; i++)
        pus[i] = allowed[i % (unsigned)k];
    free(allowed);
    return 0;
}

void weft__topology_bind_self(int pu)
{
    hwloc_topology_t t = get_topo();
    if (t == NULL || pu < 0)
        return;
    hwloc_bitmap_t set = hwloc_bitmap_alloc();
    if (set == NULL)
        return;
    hwloc_bitmap_only(set, (unsigned)pu);
    (void)hwloc_set_cpubind(t, set, HWLOC_CPUBIND_THREAD);
    hwloc_bitmap_free(set);
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

void weft__topology_spread(struct weft__worker *w)
{
    if (w->pu >= 0)
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

void weft__topology_unspread(struct weft__worker *w)
{
    /* relaxed: a placement hint. */
    atomic_store_explicit(&w->busy_cpu, -1, memory_order_relaxed);
    if (w->nudged) {
        (void)pthread_setaffinity_np(pthread_self(), sizeof(w->home), &w->home);
        w->nudged = false;
    }
}

/* Depth of the deepest object shared by two PUs: deeper means nearer. */
static int shared_depth(hwloc_topology_t t, int a, int b)
{
    hwloc_obj_t pa = hwloc_get_pu_obj_by_os_index(t, (unsigned)a);
    hwloc_obj_t pb = hwloc_get_pu_obj_by_os_index(t, (unsigned)b);
    if (pa == NULL || pb == NULL)
        return 0;
    return hwloc_get_common_ancestor_obj(t, pa, pb)->depth;
}

int weft__topology_order(hwloc_topology_t t, int self_pu, const int *pu_of, unsigned *victims,
                         unsigned m, unsigned *tier_end)
{
    int *dist = malloc(sizeof(int) * (m ? m : 1));
    if (dist == NULL)
        return -ENOMEM;
    for (unsigned i = 0; i < m; i++)
        dist[i] = shared_depth(t, self_pu, pu_of[victims[i]]);
    for (unsigned i = 1; i < m; i++) /* insertion sort, stable: m is small */
        for (unsigned j = i; j > 0 && dist[j] > dist[j - 1]; j--) {
            int d = dist[j]; dist[j] = dist[j - 1]; dist[j - 1] = d;
            unsigned v = victims[j]; victims[j] = victims[j - 1]; victims[j - 1] = v;
        }
    int tiers = 0;
    for (unsigned i = 1; i <= m; i++)
        if (i == m || dist[i] != dist[i - 1])
            tier_end[tiers++] = i;
    free(dist);
    return tiers;
}

/* Order a pinned worker's victims nearest first (keeps the flat tier on
 * allocation failure). */
static void order_by_distance(hwloc_topology_t t, struct weft_pool *p, struct weft__worker *w)
{
    int *pu_of = malloc(sizeof(int) * p->n);
    if (pu_of == NULL)
        return;
    for (unsigned i = 0; i < p->n; i++)
        pu_of[i] = p->workers[i].pu;
    int tiers = weft__topology_order(t, w->pu, pu_of, w->victims, p->n - 1, w->tier_end);
    if (tiers > 0)
        w->ntiers = (unsigned)tiers;
    free(pu_of);
}

int weft__topology_victims(struct weft_pool *p)
{
    hwloc_topology_t t = p->opts.pin != WEFT_PIN_NONE ? get_topo() : NULL;
    for (unsigned i = 0; i < p->n; i++) {
        struct weft__worker *w = &p->workers[i];
        unsigned m = p->n - 1;
        w->victims = malloc(sizeof(unsigned) * (m ? m : 1));
        w->tier_end = malloc(sizeof(unsigned) * (m ? m : 1));
        if (w->victims == NULL || w->tier_end == NULL)
            return -ENOMEM;
        for (unsigned j = 0, k = 0; j < p->n; j++)
            if (j != i)
                w->victims[k++] = j;
        w->tier_end[0] = m;
        w->ntiers = m ? 1 : 0;
        if (t != NULL && w->pu >= 0 && m > 1)
            order_by_distance(t, p, w);
    }
    return 0;
}
