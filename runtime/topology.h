/* hwloc topology, loaded once per process: allowed CPUs, pinning plans and
 * victim order by locality. */
#ifndef WEFT_TOPOLOGY_H
#define WEFT_TOPOLOGY_H

#include <hwloc.h>

#include "weft.h"

struct weft_pool;
struct weft__worker;

/* Number of CPUs in the process affinity mask (taskset, cpusets). >= 1. */
unsigned weft__topology_cpus(void);
/* Choose a PU (OS index) for each of n workers under policy pin, within the
 * allowed CPUs; pus[i] = -1 when unpinned. Returns 0, or -EINVAL. */
int weft__topology_plan(weft_pin pin, unsigned n, int *pus);
/* Bind the calling thread to PU pu (OS index). Best effort. */
void weft__topology_bind_self(int pu);
/* Placement nudge for unpinned workers, called when a worker leaves its
 * idle state with work: if another busy worker of the pool reports the same
 * CPU, narrow this thread's affinity to the allowed CPUs no busy worker
 * uses, so the kernel moves it there at once. unspread restores the
 * affinity before the worker parks. Both are no-ops for pinned workers. */
void weft__topology_spread(struct weft__worker *w);
void weft__topology_unspread(struct weft__worker *w);
/* Sort victims[0..m) (worker indexes; pu_of[v] is worker v's PU) nearest to
 * self_pu first, by the depth of the deepest topology object they share,
 * and write the end of each tier of equal distance to tier_end. Returns the
 * number of tiers, or -ENOMEM. Exposed for tests on synthetic topologies. */
int weft__topology_order(hwloc_topology_t t, int self_pu, const int *pu_of, unsigned *victims,
                         unsigned m, unsigned *tier_end);
/* Build each worker's victim list and locality tiers. Returns 0 / -ENOMEM. */
int weft__topology_victims(struct weft_pool *p);

#endif
