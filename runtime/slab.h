/* Per-thread slabs of fixed-size blocks, for futures.
 *
 * A submitting thread carves blocks from its current slab with a bump
 * counter (no atomics, no malloc); any thread returns a block with one
 * atomic decrement, and the slab goes back to malloc when its last block
 * comes back. Blocks are never reused within a slab, so a stale pointer
 * never aliases a newer record (ASan builds also poison returned blocks).
 * The price: one long-lived block keeps its whole slab (8 KiB) alive. */
#ifndef WEFT_SLAB_H
#define WEFT_SLAB_H

/* Block size and alignment: two cache lines, so neighbours never share one. */
#define WEFT_SLAB_BLOCK 128

struct weft__slab;

/* Return a WEFT_SLAB_BLOCK-byte block aligned to WEFT_SLAB_BLOCK from this
 * thread's slab (contents undefined) and store its slab in *slab, or
 * return NULL when memory is exhausted. Any thread. */
void *weft__slab_alloc(struct weft__slab **slab);

/* Give back a block of slab (any thread, once per block). The block must
 * not be touched afterwards. */
void weft__slab_free(struct weft__slab *slab, void *block);

#endif
