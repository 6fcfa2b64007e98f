/* hwloc topology, loaded once per process: allowed CPUs, pinning plans and
 * victim order by locality. */
#ifndef WEFT_TOPOLOGY_H
#define WEFT_TOPOLOGY_H

#include <hwloc.h>

#include "weft.h"


/* Number of CPUs in the process affinity mask (taskset, cpusets). >= 1. */
unsigned weft__topology_cpus(void);
/* Choose a PU (OS index) for each of n workers under policy pin, within the
 * allowed CPUs; pus[i] = -1 when unpinned. Returns 0, or -ENOMEM. */
int weft__topology_plan(weft_pin pin, unsigned n, int *pus);
/* Bind the calling thread to PU pu (OS index). Best effort. */
void weft__topology_bind_self(int pu);
/* Steal order. A pool keeps its workers in one array (the steal order),
 * sorted by their PUs' hwloc logical index, which numbers PUs depth-first:
 * the workers under any topology object are adjacent in it. Unpinned
 * workers come last. A worker's tiers are ranges of that array that grow
 * outwards from its own position: tier k is the range of the nearest
 * ancestor object (in the hwloc tree) that holds more workers than tier
 * k-1's range, less that range; the last tier is the whole array. Unpinned
 * pools have one tier: all other workers. Memory: one order entry per worker
 * and, per worker, at most the topology depth plus one ranges. */
struct weft__tier {
    unsigned lo, hi; /* positions [lo, hi) of the steal order */
};

/* Number of workers of tier r that lie outside the nearer range in (in
 * lies inside r). */
static inline unsigned weft__tier_len(struct weft__tier r, struct weft__tier in)
{
    return (r.hi - r.lo) - (in.hi - in.lo);
}

/* The j-th worker (j < weft__tier_len(r, in)) of tier r less range in. */
static inline unsigned weft__tier_victim(const unsigned *order, struct weft__tier r,
                                         struct weft__tier in, unsigned j)
{
    unsigned below = in.lo - r.lo;
    return order[j < below ? r.lo + j : in.hi + (j - below)];
}

/* Most tiers a worker can have on topology t (NULL: no locality). */
unsigned weft__topology_max_tiers(hwloc_topology_t t);
/* Sort the n workers (pu_of[w]: worker w's PU, OS index, or -1) into
 * order[0..n) by locality on t; t NULL keeps index order. Returns 0 or
 * -ENOMEM. Exposed, as the next one, for tests on synthetic topologies. */
int weft__topology_order(hwloc_topology_t t, unsigned n, const int *pu_of, unsigned *order);
/* Write the tiers of the worker at position pos of order (from
 * weft__topology_order) to tiers, nearest first; returns their number (0
 * when n < 2), at most weft__topology_max_tiers(t). */
unsigned weft__topology_tiers(hwloc_topology_t t, unsigned n, const int *pu_of,
                              const unsigned *order, unsigned pos, struct weft__tier *tiers);
/* The most tiers a worker can have under policy pin (the stride of the
 * tiers array below). */
size_t weft__topology_stride(weft_pin pin);
/* Victim lists of n workers placed on pus (pus[w]: worker w's PU, as
 * weft__topology_plan wrote it; policy pin): the steal order
 * (n entries), and for the worker at position k of it, its tiers at
 * tiers[k * stride] (ntiers[k] of them). Returns 0 or -ENOMEM. */
int weft__topology_victims(weft_pin pin, unsigned n, const int *pus, unsigned *order,
                           struct weft__tier *tiers, size_t stride, unsigned *ntiers);

#endif
