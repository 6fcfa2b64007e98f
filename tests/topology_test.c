/* Victim order by locality, on synthetic hwloc topologies (this machine has
 * one core per PU and one package, where every tier collapses into one). */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <hwloc.h>

#include "topology.h"

TestSuite(topology, .timeout = 30);

static hwloc_topology_t synthetic(const char *desc)
{
    hwloc_topology_t t;
    cr_assert(eq(int, hwloc_topology_init(&t), 0));
    cr_assert(eq(int, hwloc_topology_set_synthetic(t, desc), 0));
    cr_assert(eq(int, hwloc_topology_load(t), 0));
    return t;
}

static bool in_range(const unsigned *v, unsigned lo, unsigned hi, unsigned want)
{
    for (unsigned i = lo; i < hi; i++)
        if (v[i] == want)
            return true;
    return false;
}

/* Two packages of two cores of two PUs: from PU 0, the SMT sibling comes
 * first, then the other core of the package, then the other package. */
Test(topology, victims_are_ordered_nearest_first_in_tiers)
{
    hwloc_topology_t t = synthetic("pack:2 core:2 pu:2");
    int pu_of[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    unsigned victims[7] = {7, 6, 5, 4, 3, 2, 1}; /* worst order first */
    unsigned tier_end[7];
    int tiers = weft__topology_order(t, 0, pu_of, victims, 7, tier_end);
    cr_assert(eq(int, tiers, 3));
    cr_assert(eq(u32, tier_end[0], 1));
    cr_assert(eq(u32, tier_end[1], 3));
    cr_assert(eq(u32, tier_end[2], 7));
    cr_assert(eq(u32, victims[0], 1));
    cr_assert(in_range(victims, 1, 3, 2) && in_range(victims, 1, 3, 3));
    for (unsigned v = 4; v < 8; v++)
        cr_assert(in_range(victims, 3, 7, v), "PU %u should be in the far tier", v);
    hwloc_topology_destroy(t);
}

/* Workers on a NUMA machine: the same L3 before the other NUMA node. */
Test(topology, a_shared_cache_is_nearer_than_another_numa_node)
{
    hwloc_topology_t t = synthetic("numa:2 l3:2 core:2 pu:1");
    int pu_of[4] = {0, 1, 2, 6}; /* worker 3 sits on the other NUMA node */
    unsigned victims[3] = {3, 2, 1};
    unsigned tier_end[3];
    int tiers = weft__topology_order(t, 0, pu_of, victims, 3, tier_end);
    cr_assert(eq(int, tiers, 3));
    cr_assert(eq(u32, victims[0], 1)); /* same L3 */
    cr_assert(eq(u32, victims[1], 2)); /* same NUMA node, other L3 */
    cr_assert(eq(u32, victims[2], 3)); /* other NUMA node */
    hwloc_topology_destroy(t);
}

/* One tier when every victim is equally far. */
Test(topology, equidistant_victims_form_one_tier)
{
    hwloc_topology_t t = synthetic("pack:1 core:4 pu:1");
    int pu_of[4] = {0, 1, 2, 3};
    unsigned victims[3] = {1, 2, 3};
    unsigned tier_end[3];
    cr_assert(eq(int, weft__topology_order(t, 0, pu_of, victims, 3, tier_end), 1));
    cr_assert(eq(u32, tier_end[0], 3));
    hwloc_topology_destroy(t);
}
