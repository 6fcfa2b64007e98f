/* Memory and threads for the runtime. Every allocation and every thread the
 * runtime makes goes through these wrappers, so the allocation-failure tests
 * (tests/alloc_fail_test.c) can make any one of them fail through
 * weft__alloc_hook. Without a hook (outside those tests) a wrapper costs one
 * relaxed load and a predicted branch. Memory is given back with free(). */
#ifndef WEFT_ALLOC_H
#define WEFT_ALLOC_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>

#include "compiler.h"

enum weft__alloc_kind { WEFT__ALLOC_MEMORY, WEFT__ALLOC_THREAD };

/* Returns true to make this allocation (or thread creation) fail. It may be
 * called from any thread, concurrently. */
typedef bool (*weft__alloc_hook_fn)(enum weft__alloc_kind kind);

/* NULL except while a test injects failures. Hidden: libweft.so does not
 * export it; tests reach it through the static library. */
extern _Atomic(weft__alloc_hook_fn) weft__alloc_hook;

static inline bool weft__alloc_fails(enum weft__alloc_kind kind)
{
    /* relaxed: the test sets the hook before the calls it means to fail and
     * clears it after them; nothing is published through the pointer. */
    weft__alloc_hook_fn hook = atomic_load_explicit(&weft__alloc_hook, memory_order_relaxed);
    return weft_unlikely(hook != NULL) && hook(kind);
}

static inline void *weft__malloc(size_t size)
{
    return weft__alloc_fails(WEFT__ALLOC_MEMORY) ? NULL : malloc(size);
}

static inline void *weft__calloc(size_t n, size_t size)
{
    return weft__alloc_fails(WEFT__ALLOC_MEMORY) ? NULL : calloc(n, size);
}

/* On failure p is left as it was, as with realloc. */
static inline void *weft__realloc(void *p, size_t size)
{
    return weft__alloc_fails(WEFT__ALLOC_MEMORY) ? NULL : realloc(p, size);
}

/* size is rounded up to a multiple of align (C11 requires one). */
static inline void *weft__aligned_alloc(size_t align, size_t size)
{
    if (weft__alloc_fails(WEFT__ALLOC_MEMORY))
        return NULL;
    return aligned_alloc(align, (size + align - 1) / align * align);
}

/* A block of size bytes, 64-byte aligned, for bulk futures; NULL when
 * memory is short. Blocks of a MiB or more are mappings of their own,
 * aligned for huge pages, and the last one freed is kept for the next
 * request of about its size, so a job that submits blocks of one size
 * again and again touches fresh pages only once. Any thread. */
void *weft__block_alloc(size_t size);
/* Give back a block of weft__block_alloc (NULL is ignored). Any thread. */
void weft__block_free(void *p);

/* pthread_create: 0 or an error number (EAGAIN when the hook fails it). */
static inline int weft__thread_create(pthread_t *thread, const pthread_attr_t *attr,
                                      void *(*start)(void *), void *arg)
{
    return weft__alloc_fails(WEFT__ALLOC_THREAD) ? EAGAIN
                                                 : pthread_create(thread, attr, start, arg);
}

#endif
