/* N-queens by bitmasks, one task per valid placement: the wide fork/join probe.
 * A node is a partial board (row, occupied columns, both diagonals); each free
 * square in the next row is a child. spawns = nodes of the search tree - 1. */
#ifndef BENCH_NQUEENS_H
#define BENCH_NQUEENS_H

#include <stdint.h>

#include "bench.h"

#define NQ_MAX 16
#define NQ_DEFAULT_N 12

typedef struct nq_node {
    unsigned row;
    uint32_t cols, ld, rd; /* occupied columns, left and right diagonals */
} nq_node;

/* Solutions for n = 0..16 (OEIS A000170): the correctness oracle. */
static const uint64_t nq_solutions[NQ_MAX + 1] = {
    1, 1, 0, 0, 2, 10, 4, 40, 92, 352, 724, 2680, 14200, 73712, 365596, 2279184, 14772512};

static inline uint32_t nq_free(unsigned n, const nq_node *s)
{
    return ~(s->cols | s->ld | s->rd) & ((1u << n) - 1u);
}

/* The child of s that places a queen on column bit `bit`. */
static inline nq_node nq_child(const nq_node *s, uint32_t bit)
{
    nq_node c;
    c.row = s->row + 1;
    c.cols = s->cols | bit;
    c.ld = (s->ld | bit) << 1;
    c.rd = (s->rd | bit) >> 1;
    return c;
}

static inline nq_node nq_root(void)
{
    nq_node r = {0, 0, 0, 0};
    return r;
}

/* Nodes below the root (= spawns), counted serially. */
static inline uint64_t nq_spawns(unsigned n, nq_node s)
{
    if (s.row == n)
        return 0;
    uint64_t k = 0;
    for (uint32_t f = nq_free(n, &s); f != 0; f &= f - 1)
        k += 1 + nq_spawns(n, nq_child(&s, f & -f));
    return k;
}

static inline unsigned nq_parse_n(int argc, char **argv)
{
    long long n = bench_arg_ll(argc, argv, "--n", NQ_DEFAULT_N);
    if (n < 1 || n > NQ_MAX)
        bench_fail("--n must be in 1..%d", NQ_MAX);
    return (unsigned)n;
}

static inline void nq_check(unsigned n, uint64_t got)
{
    if (got != nq_solutions[n])
        bench_fail("nqueens(%u) = %" PRIu64 ", expected %" PRIu64, n, got, nq_solutions[n]);
}

#endif /* BENCH_NQUEENS_H */
