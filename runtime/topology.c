/* hwloc topology: one load per process, restricted to the process binding
 * (hwloc ignores taskset otherwise, and a bind would escape it). */
#include <errno.h>
#include <hwloc.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "alloc.h"
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
    int *pus = weft__malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
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
    hwloc_bitmap_t *sets = weft__calloc(n, sizeof(*sets));
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

unsigned weft__topology_max_tiers(hwloc_topology_t t)
{
    /* One per ancestor of a PU (every normal level), and the whole pool. */
    return t != NULL ? (unsigned)hwloc_topology_get_depth(t) + 1 : 1;
}

struct rank {
    unsigned key;    /* the PU's logical index; UINT_MAX: no PU */
    unsigned worker;
};

static int rank_cmp(const void *a, const void *b)
{
    const struct rank *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->worker < y->worker ? -1 : x->worker > y->worker;
}

static unsigned pu_key(hwloc_topology_t t, int pu)
{
    hwloc_obj_t o = pu >= 0 ? hwloc_get_pu_obj_by_os_index(t, (unsigned)pu) : NULL;
    return o != NULL ? o->logical_index : UINT_MAX;
}

int weft__topology_order(hwloc_topology_t t, unsigned n, const int *pu_of, unsigned *order)
{
    if (t == NULL) {
        for (unsigned i = 0; i < n; i++)
            order[i] = i;
        return 0;
    }
    struct rank *r = weft__malloc(sizeof(*r) * (n ? n : 1));
    if (r == NULL)
        return -ENOMEM;
    for (unsigned i = 0; i < n; i++)
        r[i] = (struct rank){pu_key(t, pu_of[i]), i};
    qsort(r, n, sizeof(*r), rank_cmp);
    for (unsigned i = 0; i < n; i++)
        order[i] = r[i].worker;
    free(r);
    return 0;
}

static bool under(hwloc_obj_t a, const int *pu_of, unsigned worker)
{
    return pu_of[worker] >= 0 && hwloc_bitmap_isset(a->cpuset, (unsigned)pu_of[worker]);
}

/* The range of order holding the workers under a, which holds position pos
 * (the workers under a are adjacent: see topology.h). Binary searches. */
static struct weft__tier range_under(hwloc_obj_t a, const int *pu_of, const unsigned *order,
                                     unsigned n, unsigned pos)
{
    unsigned lo = 0, hi = pos; /* the first position under a is in [lo, hi] */
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (under(a, pu_of, order[mid]))
            hi = mid;
        else
            lo = mid + 1;
    }
    struct weft__tier r = {lo, 0};
    lo = pos + 1, hi = n; /* the first position past a's workers is in [lo, hi] */
    while (lo < hi) {
        unsigned mid = lo + (hi - lo) / 2;
        if (under(a, pu_of, order[mid]))
            lo = mid + 1;
        else
            hi = mid;
    }
    r.hi = lo;
    return r;
}

unsigned weft__topology_tiers(hwloc_topology_t t, unsigned n, const int *pu_of,
                              const unsigned *order, unsigned pos, struct weft__tier *tiers)
{
    int pu = pu_of[order[pos]];
    hwloc_obj_t o = t != NULL && pu >= 0 ? hwloc_get_pu_obj_by_os_index(t, (unsigned)pu) : NULL;
    unsigned k = 0, size = 1; /* the nearest range so far: the worker itself */
    for (; o != NULL; o = o->parent) {
        struct weft__tier r = range_under(o, pu_of, order, n, pos);
        if (r.hi - r.lo > size) {
            tiers[k++] = r;
            size = r.hi - r.lo;
        }
    }
    if (n > size)
        tiers[k++] = (struct weft__tier){0, n};
    return k;
}

size_t weft__topology_stride(weft_pin pin)
{
    return weft__topology_max_tiers(pin != WEFT_PIN_NONE ? get_topo() : NULL);
}

int weft__topology_victims(weft_pin pin, unsigned n, const int *pus, unsigned *order,
                           struct weft__tier *tiers, size_t stride, unsigned *ntiers)
{
    hwloc_topology_t t = pin != WEFT_PIN_NONE ? get_topo() : NULL;
    if (weft__topology_order(t, n, pus, order) != 0)
        return -ENOMEM;
    for (unsigned k = 0; k < n; k++)
        ntiers[k] = weft__topology_tiers(t, n, pus, order, k, tiers + k * stride);
    return 0;
}
