/* The allocation-failure hook (alloc.h). */
#include "alloc.h"

_Atomic(weft__alloc_hook_fn) weft__alloc_hook;

/* ---- large blocks ---- */

#include <stdint.h>
#include <sys/mman.h>

/* Blocks this large or larger are mapped on their own. */
#define BLOCK_MAP_MIN (1u << 20)
/* Transparent huge pages: mappings are aligned to them. */
#define BLOCK_HUGE (2u << 20)
/* A cached block serves a request at least 1/BLOCK_WASTE of its size. */
#define BLOCK_WASTE 4

/* What lies in front of every block (its first 64 bytes hold it). */
struct block_head {
    void *map;      /* the mapping, or NULL for a malloc'd block */
    size_t map_len; /* its length */
    size_t cap;     /* bytes usable from the block on */
};
#define BLOCK_HEAD 64
_Static_assert(sizeof(struct block_head) <= BLOCK_HEAD, "the head fits its line");

/* The last mapped block freed, kept for the next request it serves. */
static _Atomic(void *) cached_block;

static struct block_head *head_of(void *p)
{
    return (struct block_head *)((char *)p - BLOCK_HEAD);
}

static void block_unmap(void *p)
{
    struct block_head *h = head_of(p);
    munmap(h->map, h->map_len);
}

/* A fresh mapping for size bytes, 2 MiB-aligned: where the system gives
 * transparent huge pages without being asked, its first touch costs a
 * fault per 2 MiB, not per 4 KiB. (Asking with MADV_HUGEPAGE makes the
 * fault compact memory first: 150 ms for 64 MiB on the development VM.) */
static void *block_map(size_t size)
{
    size_t want = size + BLOCK_HEAD;
    if (want < size || want > SIZE_MAX - 2 * BLOCK_HUGE)
        return NULL;
    size_t len = (want + BLOCK_HUGE - 1) / BLOCK_HUGE * BLOCK_HUGE + BLOCK_HUGE;
    char *map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED)
        return NULL;
    char *a = (char *)(((uintptr_t)map + BLOCK_HUGE - 1) & ~(uintptr_t)(BLOCK_HUGE - 1));
    struct block_head *h = (struct block_head *)a;
    h->map = map;
    h->map_len = len;
    h->cap = len - (size_t)(a - map) - BLOCK_HEAD;
    return a + BLOCK_HEAD;
}

void *weft__block_alloc(size_t size)
{
    if (weft__alloc_fails(WEFT__ALLOC_MEMORY))
        return NULL;
    if (size < BLOCK_MAP_MIN) {
        size_t want = size + BLOCK_HEAD;
        if (want < size)
            return NULL;
        char *m = aligned_alloc(BLOCK_HEAD, (want + BLOCK_HEAD - 1) / BLOCK_HEAD * BLOCK_HEAD);
        if (m == NULL)
            return NULL;
        ((struct block_head *)m)->map = NULL;
        return m + BLOCK_HEAD;
    }
    /* acquire: pairs with the release exchange in weft__block_free, so
     * the head the freeing thread wrote is seen here. */
    void *c = atomic_exchange_explicit(&cached_block, NULL, memory_order_acquire);
    if (c != NULL) {
        size_t cap = head_of(c)->cap;
        if (cap >= size && cap / BLOCK_WASTE <= size)
            return c;
        block_unmap(c);
    }
    return block_map(size);
}

void weft__block_free(void *p)
{
    if (p == NULL)
        return;
    struct block_head *h = head_of(p);
    if (h->map == NULL) {
        free(h);
        return;
    }
    /* acq_rel: release publishes the head (and our last writes) to the
     * next taker; acquire, the head of the block it hands us back. */
    void *old = atomic_exchange_explicit(&cached_block, p, memory_order_acq_rel);
    if (old != NULL)
        block_unmap(old);
}
