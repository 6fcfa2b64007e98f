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

/* Give back a block that callers may still (wrongly) reach, such as a freed
 * future behind a handle released once too often. Release builds: exactly
 * weft__slab_free. Debug builds (no NDEBUG) keep the block in a quarantine
 * of the calling thread's last SLAB_QUARANTINE such blocks (slab.c) and
 * give it back only when it leaves, so until then its contents, as the
 * last owner left them, stay readable to checks that catch a use after
 * free (and nothing reuses the memory). ASan builds poison it at once, as
 * weft__slab_free does. */
#ifdef NDEBUG
#define weft__slab_retire(slab, block) weft__slab_free((slab), (block))
#else
void weft__slab_retire(struct weft__slab *slab, void *block);
#endif

#endif
