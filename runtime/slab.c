/* Per-thread slabs (slab.h).
 *
 * live counts the blocks of a slab that are not yet back: it starts at
 * SLAB_BLOCKS, so the blocks not yet carved are counted as held by the
 * carving thread. That thread carves with a plain counter and forgets the
 * slab as it carves the last block (from then on the slab may be freed by
 * whoever gives back its last block); when the thread exits, a thread-key
 * destructor gives back what it never carved. The thread that brings live
 * to 0 frees the slab. A thread that exits without running destructors (the
 * main thread, after exit()) keeps its current slab reachable through its
 * thread-local pointer until the process ends.
 *
 * Debug builds (no NDEBUG) add a quarantine for weft__slab_retire: a ring
 * per thread of the last SLAB_QUARANTINE blocks it retired, each given back
 * (as weft__slab_free) when a newer one takes its entry, or when the thread
 * exits (a second thread key's destructor). The ring is plain thread-local
 * data: only its thread touches it. A thread that exits without running
 * destructors keeps its ring, and the slabs it holds, reachable through it.
 *
 * Ordering
 *   [SL1] acq_rel on every decrement of live: the release half orders each
 *         thread's last use of its blocks before the decrement; the acquire
 *         half makes the thread that reaches 0 see all of them before it
 *         frees the slab (the usual reference-count rule). */
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "alloc.h"
#include "compiler.h"
#include "slab.h"

#if defined(__SANITIZE_ADDRESS__)
#define SLAB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLAB_ASAN 1
#endif
#endif
#ifdef SLAB_ASAN
#include <sanitizer/asan_interface.h>
/* Blocks not handed out, or given back, are poisoned: ASan reports a use
 * after weft__slab_free as it would after free(). */
#define slab_poison(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define slab_unpoison(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define slab_poison(p, n) ((void)(p), (void)(n))
#define slab_unpoison(p, n) ((void)(p), (void)(n))
#endif

/* 63 blocks after a block-sized header: 8 KiB per slab. */
#define SLAB_BLOCKS 63

struct weft__slab {
    _Atomic uint32_t live; /* blocks not back yet, uncarved ones included */
    uint32_t carved;       /* blocks handed out; carving thread only */
    alignas(WEFT_SLAB_BLOCK) unsigned char block[SLAB_BLOCKS][WEFT_SLAB_BLOCK];
};

_Static_assert(sizeof(struct weft__slab) == (SLAB_BLOCKS + 1) * WEFT_SLAB_BLOCK,
               "slab header must take exactly one block");

/* This thread's slab. initial-exec: one fs-relative load on the submit
 * path, also from the shared library (as weft__self in worker.c). */
static _Thread_local struct weft__slab *current __attribute__((tls_model("initial-exec")));

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t key;
static bool key_ok;

static void slab_put(struct weft__slab *s, uint32_t n)
{
    /* [SL1] acq_rel. */
    if (n != 0 && atomic_fetch_sub_explicit(&s->live, n, memory_order_acq_rel) == n)
        free(s);
}

/* Thread exit: give back the blocks this thread never carved. */
static void thread_done(void *arg)
{
    struct weft__slab *s = arg;
    current = NULL;
    slab_put(s, SLAB_BLOCKS - s->carved);
}

static void make_key(void)
{
    key_ok = pthread_key_create(&key, thread_done) == 0;
}

/* The code of thread_done goes away when the library does (libweft.so is
 * linked -z nodelete, but libweft.a may sit in a plugin that is unloaded):
 * delete the key first, so no exiting thread calls into unmapped code. The
 * slabs of threads still alive then stay allocated. */
#ifndef NDEBUG
#define SLAB_QUARANTINE 64

struct quarantine {
    struct weft__slab *slab[SLAB_QUARANTINE];
    void *block[SLAB_QUARANTINE]; /* NULL: a free entry */
    unsigned next;                /* the entry the next retired block takes */
    bool hooked;                  /* the thread-exit destructor is armed */
};

/* Not initial-exec: debug builds only, and the library may be dlopen()ed. */
static _Thread_local struct quarantine quarantine;

static pthread_once_t qkey_once = PTHREAD_ONCE_INIT;
static pthread_key_t qkey;
static bool qkey_ok;

/* Thread exit: give back every block still in the ring. A destructor of
 * another key that retires blocks after this re-arms the hook, and the
 * thread runs destructors once more. */
static void quarantine_flush(void *arg)
{
    struct quarantine *q = arg;
    q->hooked = false;
    for (unsigned i = 0; i < SLAB_QUARANTINE; i++) {
        if (q->block[i] != NULL) {
            slab_put(q->slab[i], 1);
            q->block[i] = NULL;
        }
    }
}

static void make_qkey(void)
{
    qkey_ok = pthread_key_create(&qkey, quarantine_flush) == 0;
}

void weft__slab_retire(struct weft__slab *slab, void *block)
{
    struct quarantine *q = &quarantine;
    if (!q->hooked) {
        pthread_once(&qkey_once, make_qkey);
        if (!qkey_ok || pthread_setspecific(qkey, q) != 0) {
            /* No exit hook: nothing may stay in a ring nobody flushes. */
            weft__slab_free(slab, block);
            return;
        }
        q->hooked = true;
    }
    slab_poison(block, WEFT_SLAB_BLOCK);
    unsigned i = q->next;
    q->next = (i + 1) % SLAB_QUARANTINE;
    struct weft__slab *old_slab = q->slab[i];
    void *old = q->block[i];
    q->slab[i] = slab;
    q->block[i] = block;
    if (old != NULL)
        slab_put(old_slab, 1); /* poisoned when it was retired */
}
#endif

__attribute__((destructor)) static void slab_unload(void)
{
    if (key_ok)
        (void)pthread_key_delete(key);
#ifndef NDEBUG
    if (qkey_ok)
        (void)pthread_key_delete(qkey);
#endif
}

static struct weft__slab *slab_new(void)
{
    struct weft__slab *s = weft__aligned_alloc(WEFT_SLAB_BLOCK, sizeof(*s));
    if (s == NULL)
        return NULL;
    /* relaxed: s is private until a block of it is handed out. */
    atomic_store_explicit(&s->live, SLAB_BLOCKS, memory_order_relaxed);
    s->carved = 0;
    slab_poison(s->block, sizeof(s->block));
    return s;
}

/* Make a fresh slab this thread's current one (there is none: a fully
 * carved slab stops being current at its last block). */
static struct weft__slab *slab_refill(void)
{
    pthread_once(&key_once, make_key);
    struct weft__slab *s = slab_new();
    if (s == NULL)
        return NULL;
    if (!key_ok || pthread_setspecific(key, s) != 0) {
        /* No exit hook: a one-block slab, so nothing stays counted to a
         * thread that could not give it back. relaxed: still private. The
         * caller carves its last block, which leaves current NULL. */
        atomic_store_explicit(&s->live, 1, memory_order_relaxed);
        s->carved = SLAB_BLOCKS - 1;
    }
    current = s;
    return s;
}

void *weft__slab_alloc(struct weft__slab **slab)
{
    struct weft__slab *s = current;
    if (weft_unlikely(s == NULL)) {
        s = slab_refill();
        if (s == NULL)
            return NULL;
    }
    void *b = s->block[s->carved++];
    if (s->carved == SLAB_BLOCKS) {
        /* Fully carved: its blocks may all come back and free it at any
         * moment, so this thread must not look at it again. */
        current = NULL;
        if (key_ok)
            (void)pthread_setspecific(key, NULL);
    }
    slab_unpoison(b, WEFT_SLAB_BLOCK);
    *slab = s;
    return b;
}

void weft__slab_free(struct weft__slab *slab, void *block)
{
    slab_poison(block, WEFT_SLAB_BLOCK);
    slab_put(slab, 1);
}
