/* Steal order by locality (runtime/topology.c), on synthetic hwloc
 * topologies (this machine has one core per PU and one package, where every
 * tier collapses into one). */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>

#include <hwloc.h>
#include <stdlib.h>

#include "topology.h"

TestSuite(topology, .timeout = 30);

#define MAX_TIERS 16

static hwloc_topology_t synthetic(const char *desc)
{
    hwloc_topology_t t;
    cr_assert(eq(int, hwloc_topology_init(&t), 0));
    cr_assert(eq(int, hwloc_topology_set_synthetic(t, desc), 0));
    cr_assert(eq(int, hwloc_topology_load(t), 0));
    return t;
}

/* One worker's tiers, as lists of worker indexes. */
struct tiers {
    unsigned n;
    unsigned len[MAX_TIERS];
    unsigned *who[MAX_TIERS];
};

/* The tiers of worker `self` among n workers placed on pu_of. */
static struct tiers tiers_of(hwloc_topology_t t, unsigned n, const int *pu_of, unsigned self)
{
    unsigned *order = malloc(sizeof(*order) * n);
    cr_assert(order != NULL);
    cr_assert(eq(int, weft__topology_order(t, n, pu_of, order), 0));
    unsigned pos = n;
    for (unsigned i = 0; i < n; i++)
        if (order[i] == self)
            pos = i;
    cr_assert(lt(u32, pos, n), "worker %u missing from the order", self);
    struct weft__tier r[MAX_TIERS];
    cr_assert(le(u32, weft__topology_max_tiers(t), MAX_TIERS));
    struct tiers out = {.n = weft__topology_tiers(t, n, pu_of, order, pos, r)};
    cr_assert(le(u32, out.n, weft__topology_max_tiers(t)));
    struct weft__tier in = {pos, pos + 1};
    for (unsigned k = 0; k < out.n; k++) {
        out.len[k] = weft__tier_len(r[k], in);
        out.who[k] = malloc(sizeof(unsigned) * (out.len[k] ? out.len[k] : 1));
        cr_assert(out.who[k] != NULL);
        for (unsigned j = 0; j < out.len[k]; j++)
            out.who[k][j] = weft__tier_victim(order, r[k], in, j);
        in = r[k];
    }
    free(order);
    return out;
}

static void tiers_free(struct tiers *s)
{
    for (unsigned k = 0; k < s->n; k++)
        free(s->who[k]);
}

static bool in_tier(const struct tiers *s, unsigned k, unsigned worker)
{
    for (unsigned j = 0; j < s->len[k]; j++)
        if (s->who[k][j] == worker)
            return true;
    return false;
}

/* Every other worker is in exactly one tier, and the worker in none. */
static void assert_partition(const struct tiers *s, unsigned n, unsigned self)
{
    unsigned *seen = calloc(n, sizeof(*seen));
    cr_assert(seen != NULL);
    for (unsigned k = 0; k < s->n; k++) {
        cr_assert(gt(u32, s->len[k], 0), "tier %u is empty", k);
        for (unsigned j = 0; j < s->len[k]; j++)
            seen[s->who[k][j]]++;
    }
    for (unsigned v = 0; v < n; v++)
        cr_assert(eq(u32, seen[v], v == self ? 0 : 1), "worker %u of %u seen %u times", v, n,
                  seen[v]);
    free(seen);
}

/* Two packages of two cores of two PUs: from PU 0, the SMT sibling comes
 * first, then the other core of the package, then the other package. The
 * workers sit on the PUs in reverse, so the order is no accident of the
 * worker indexes. */
Test(topology, victims_are_ordered_nearest_first_in_tiers)
{
    hwloc_topology_t t = synthetic("pack:2 core:2 pu:2");
    int pu_of[8] = {7, 6, 5, 4, 3, 2, 1, 0};
    struct tiers s = tiers_of(t, 8, pu_of, 7); /* worker 7 is on PU 0 */
    cr_assert(eq(u32, s.n, 3));
    cr_assert(eq(u32, s.len[0], 1));
    cr_assert(in_tier(&s, 0, 6));
    cr_assert(eq(u32, s.len[1], 2));
    cr_assert(in_tier(&s, 1, 5) && in_tier(&s, 1, 4));
    cr_assert(eq(u32, s.len[2], 4));
    for (unsigned v = 0; v < 4; v++)
        cr_assert(in_tier(&s, 2, v), "worker %u should be in the far tier", v);
    assert_partition(&s, 8, 7);
    tiers_free(&s);
    hwloc_topology_destroy(t);
}

/* Workers on a NUMA machine: the same L3 before the other NUMA node. */
Test(topology, a_shared_cache_is_nearer_than_another_numa_node)
{
    hwloc_topology_t t = synthetic("numa:2 l3:2 core:2 pu:1");
    int pu_of[4] = {0, 1, 2, 6}; /* worker 3 sits on the other NUMA node */
    struct tiers s = tiers_of(t, 4, pu_of, 0);
    cr_assert(eq(u32, s.n, 3));
    cr_assert(in_tier(&s, 0, 1)); /* same L3 */
    cr_assert(in_tier(&s, 1, 2)); /* same NUMA node, other L3 */
    cr_assert(in_tier(&s, 2, 3)); /* other NUMA node */
    tiers_free(&s);
    hwloc_topology_destroy(t);
}

/* One tier when every victim is equally far. */
Test(topology, equidistant_victims_form_one_tier)
{
    hwloc_topology_t t = synthetic("pack:1 core:4 pu:1");
    int pu_of[4] = {0, 1, 2, 3};
    struct tiers s = tiers_of(t, 4, pu_of, 0);
    cr_assert(eq(u32, s.n, 1));
    assert_partition(&s, 4, 0);
    tiers_free(&s);
    hwloc_topology_destroy(t);
}

/* More workers than PUs (compact pinning wraps around): a worker on the
 * same PU is the nearest victim. */
Test(topology, a_worker_on_the_same_pu_comes_first)
{
    hwloc_topology_t t = synthetic("pack:2 core:2 pu:1");
    int pu_of[8] = {0, 1, 2, 3, 0, 1, 2, 3};
    struct tiers s = tiers_of(t, 8, pu_of, 0);
    cr_assert(eq(u32, s.n, 3));
    cr_assert(eq(u32, s.len[0], 1));
    cr_assert(in_tier(&s, 0, 4));
    cr_assert(in_tier(&s, 1, 1) && in_tier(&s, 1, 5));
    assert_partition(&s, 8, 0);
    tiers_free(&s);
    hwloc_topology_destroy(t);
}

/* A worker without a PU (scatter can leave one unplaced) steals from all in
 * one tier, and is in the pinned workers' farthest tier, after the root's. */
Test(topology, an_unplaced_worker_is_farthest_and_sees_one_tier)
{
    hwloc_topology_t t = synthetic("pack:2 core:1 pu:1");
    int pu_of[3] = {0, -1, 1};
    struct tiers s = tiers_of(t, 3, pu_of, 1);
    cr_assert(eq(u32, s.n, 1));
    assert_partition(&s, 3, 1);
    tiers_free(&s);
    s = tiers_of(t, 3, pu_of, 0);
    cr_assert(eq(u32, s.n, 2));
    cr_assert(in_tier(&s, 0, 2)); /* the other package */
    cr_assert(in_tier(&s, 1, 1)); /* the unplaced worker */
    assert_partition(&s, 3, 0);
    tiers_free(&s);
    hwloc_topology_destroy(t);
}

/* Without a topology (unpinned pools): index order, one tier of all others,
 * and nothing at all for a single worker. */
Test(topology, without_a_topology_every_other_worker_is_one_tier)
{
    int pu_of[5] = {-1, -1, -1, -1, -1};
    for (unsigned self = 0; self < 5; self++) {
        struct tiers s = tiers_of(NULL, 5, pu_of, self);
        cr_assert(eq(u32, s.n, 1));
        assert_partition(&s, 5, self);
        tiers_free(&s);
    }
    struct tiers one = tiers_of(NULL, 1, pu_of, 0);
    cr_assert(eq(u32, one.n, 0));
}

/* The most workers a pool can have, on a machine of 4 packages of 16 cores
 * of 2 PUs (worker i on PU i mod 128): every worker's tiers partition the
 * others, with at most depth + 1 ranges each, so the steal order takes
 * memory linear in the workers. */
Test(topology, tiers_partition_the_workers_of_a_large_pool, .timeout = 60)
{
    hwloc_topology_t t = synthetic("pack:4 core:16 pu:2");
    enum { N = 4096 };
    int *pu_of = malloc(sizeof(int) * N);
    cr_assert(pu_of != NULL);
    for (unsigned i = 0; i < N; i++)
        pu_of[i] = (int)(i % 128);
    for (unsigned self = 0; self < N; self += 257) {
        struct tiers s = tiers_of(t, N, pu_of, self);
        cr_assert(eq(u32, s.n, 4)); /* same PU, core, package; the rest */
        cr_assert(eq(u32, s.len[0], N / 128 - 1));
        assert_partition(&s, N, self);
        tiers_free(&s);
    }
    free(pu_of);
    hwloc_topology_destroy(t);
}
