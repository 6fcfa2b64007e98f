/* Unbalanced tree search (after UTS, Olivier et al., LCPC 2006), one task per
 * child. A node is a 64-bit id; its children and their ids come from splitmix64
 * of the id, so the tree is fixed by the parameters and the same for every
 * system. Each node also does ~100 ns of hashing (bench_work) whose values are
 * summed into a checksum, so a run is checked by node count and checksum.
 *
 *   deep: binomial. The root has b0 children; every other node has m children
 *         with probability q, else none (m*q = 0.999 < 1, so the tree is finite
 *         but has very long chains).
 *   wide: geometric. Every node above max_depth has k children with
 *         P(k) = p (1-p)^k, mean b = (1-p)/p; nodes at max_depth are leaves. */
#ifndef BENCH_UTS_H
#define BENCH_UTS_H

#include <math.h>
#include <stdint.h>

#include "bench.h"

typedef struct uts_params {
    const char *name;   /* "deep" or "wide" (also the bench suffix) */
    int geometric;      /* 0 = binomial, 1 = geometric */
    unsigned b0;        /* binomial: root children */
    unsigned m;         /* binomial: children of a non-leaf */
    double q;           /* binomial: probability a node has m children */
    double b;           /* geometric: mean children */
    unsigned max_depth; /* geometric: depth of the leaves */
    uint64_t seed;      /* root id */
    uint64_t nodes;     /* expected node count (0 = unknown: count serially) */
    uint64_t checksum;  /* expected checksum */
    unsigned depth;     /* tree depth, for the record */
} uts_params;

/* The recorded trees (seeds picked for size and depth; counts, checksums and
 * depths measured by uts_seq). "-small" trees are for --quick runs. */
static const uts_params uts_trees[] = {
    {"deep", 0, 2000, 8, 0.124875, 0, 0, 66, 3994529, 0x2c007e886b761415ull, 1583},
    {"wide", 1, 0, 0, 0, 4.0, 10, 33, 4019400, 0x4d572d74db02666full, 10},
    {"deep-small", 0, 2000, 8, 0.124875, 0, 0, 12, 377745, 0x82513ec7abab144full, 459},
    {"wide-small", 1, 0, 0, 0, 4.0, 10, 16, 304519, 0xe7cf37afe9e5015full, 10},
};

/* Children whose results fit in the spawning frame; more go to the heap. */
#define UTS_FRAME_KIDS 8

typedef struct uts_node {
    uint64_t id;
    unsigned depth;
} uts_node;

/* The node's ~100 ns of work: the value folded into the checksum. */
static inline uint64_t uts_work(uint64_t id) { return bench_work(id, BENCH_WORK_ITERS); }

/* Uniform double in [0, 1) from a hash. */
static inline double uts_unit(uint64_t h) { return (double)(h >> 11) * 0x1p-53; }

static inline unsigned uts_num_children(const uts_params *p, const uts_node *nd)
{
    double u = uts_unit(bench_splitmix64(nd->id ^ 0x5bd1e995ull));
    if (!p->geometric) {
        if (nd->depth == 0)
            return p->b0;
        return u < p->q ? p->m : 0;
    }
    if (nd->depth >= p->max_depth)
        return 0;
    /* Inverse CDF of the geometric distribution on {0, 1, ...}. */
    double pr = 1.0 / (1.0 + p->b);
    return (unsigned)floor(log1p(-u) / log1p(-pr));
}

static inline uts_node uts_child(const uts_node *nd, unsigned i)
{
    uts_node c;
    c.id = bench_splitmix64(nd->id * 0x9e3779b97f4a7c15ull + i + 1);
    c.depth = nd->depth + 1;
    return c;
}

/* A subtree's result: node count and checksum (sum of uts_work, mod 2^64). */
typedef struct uts_result {
    uint64_t nodes;
    uint64_t sum;
} uts_result;

static inline void uts_add(uts_result *into, uts_result r)
{
    into->nodes += r.nodes;
    into->sum += r.sum;
}

static inline uts_node uts_root(const uts_params *p)
{
    uts_node r = {p->seed, 0};
    return r;
}

/* Storage for k child results: `frame` when k fits, else the heap. */
static inline void *uts_kids_alloc(unsigned k, void *frame, size_t elem)
{
    if (k <= UTS_FRAME_KIDS)
        return frame;
    void *p = malloc(k * elem);
    if (p == NULL)
        bench_fail("out of memory for %u children", k);
    return p;
}

static inline void uts_kids_free(void *p, void *frame)
{
    if (p != frame)
        free(p);
}

/* Exit non-zero unless r matches the recorded tree (when it is recorded). */
static inline void uts_check(const uts_params *p, uts_result r)
{
    if (p->nodes != 0 && (r.nodes != p->nodes || r.sum != p->checksum))
        bench_fail("uts %s: %" PRIu64 " nodes, checksum %016" PRIx64 "; expected %" PRIu64
                   " nodes, checksum %016" PRIx64,
                   p->name, r.nodes, r.sum, p->nodes, p->checksum);
}

#define UTS_EXTRA "tree=%s nodes=%" PRIu64 " spawns=%" PRIu64

/* --tree deep|wide|deep-small|wide-small selects the parameters. */
static inline const uts_params *uts_parse(int argc, char **argv)
{
    const char *t = bench_arg_str(argc, argv, "--tree", "deep");
    for (size_t i = 0; i < sizeof uts_trees / sizeof uts_trees[0]; i++)
        if (strcmp(uts_trees[i].name, t) == 0)
            return &uts_trees[i];
    bench_fail("--tree must be deep, wide, deep-small or wide-small, got '%s'", t);
    return NULL;
}

#endif /* BENCH_UTS_H */
