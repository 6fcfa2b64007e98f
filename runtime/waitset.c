/* The waiter behind weft_wait and weft_as_completed (waitset.h; the two
 * calls are in wait_many.c).
 *
 * Design (concurrency-design-notes.md 3.4). Each call builds one waiter
 * object, a `struct waitset`: a 32-bit futex word, an MPSC list of completed
 * links, and one link per distinct future, registered as a watcher on that
 * future (future.h). A completing future fires its link on the completing
 * thread: the link pushes itself on the waiter's list and completes the word,
 * so each completion costs O(1) and the consumer never rescans the futures.
 * Links come out of the list in completion order, which is the order
 * as_completed yields them in. Futures that are done when the call starts
 * (their watcher stack is closed) go straight to the consumer's ready queue,
 * so they come first.
 *
 * Links are the futures' watchers (future.h), which can be pruned. When the
 * consumer is done (weft_wait returns, the iterator ends) it marks the
 * waiter gone and prunes the futures it did not see complete: each prune
 * discards every link of a gone waiter on that future, its own and any a
 * concurrent prune left behind. So a polling loop of timed waits on futures
 * that stay pending keeps no memory, and a link outlives its call only if
 * it raced with another thread's prune of the same future (until the next
 * prune of it, its completion or its free). Each link holds a reference on the
 * waiter; the waiter is freed when the last link is fired or discarded.
 *
 * Ordering and invariants
 *   [WS1] Completed list: liburcu's lock-free stack (cds_lfs). A completer
 *         pushes its link (cds_lfs_push: a CAS that is a full barrier); the
 *         consumer takes the whole list (__cds_lfs_pop_all: an exchange that
 *         is a full barrier; it needs exclusion only from other pops, and
 *         there is one consumer) and reverses it (push order = completion
 *         order). There is no ABA: the consumer never pops single nodes, and
 *         a link is pushed at most once (a watcher fires or is discarded
 *         once, listeners.c [LS1], [LS3]).
 *   [WS2] Wake-up word: ws->word uses the completion-word layout of word.h.
 *         A completer pushes [WS1] and then completes the word with
 *         WEFT_FINISHED (word.c [WD1]: acq_rel exchange, wake if WAITERS).
 *         Before each drain, the consumer resets the word to PENDING with an
 *         acquire exchange, and it blocks only right after a drain that found
 *         nothing. Either a completer's exchange comes before the reset in
 *         the word's modification order (the reset reads it or a later RMW
 *         of its release sequence, so the push happens before the drain and
 *         the drain sees the link), or it comes after the reset and leaves
 *         FINISHED in the word, so the next block returns at once. No wake is
 *         lost. A plain store for the reset would let the drain miss the push
 *         while the store overwrote FINISHED (store-load reordering).
 *         The word is only ever 0 (PENDING), 4 (PENDING|WAITERS, set by the
 *         one sleeping consumer) or 2 (FINISHED); resetting drops WAITERS,
 *         which is safe because there is a single consumer.
 *   [WS3] Waiter references: one for the consumer plus one per registered
 *         link. A link drops its reference after its push and its wake, so
 *         the word and the list outlive every completer's access. Links live
 *         inside the waiter's allocation, so a link firing after weft_wait
 *         returned or after the iterator ended touches live memory. The
 *         decrement is acq_rel: release publishes our accesses, acquire gives
 *         the freeing thread everyone else's (an RMW rather than a separate
 *         fence, which ThreadSanitizer does not model).
 *   [WS4] ws->gone is a hint for pruners (relaxed): it only ever goes
 *         from false to true, once the consumer needs no more wakes, so a
 *         pruner that reads true may discard the link whatever it reads
 *         next, and one that reads false keeps it (harmless). Freeing is
 *         ordered by [WS3] alone.
 *   Links hold no reference on their futures: weft_wait's caller holds its
 *   own for the duration of the call; the iterator takes one per distinct
 *   future and keeps it until weft_as_completed_end.
 *   Single consumer: a waitset is drained and waited on by one thread at a
 *   time (the weft_wait caller, or the iterator's user). */
#include <stdalign.h>
#include <stddef.h>
#include <stdlib.h>

#include "alloc.h"
#include "compiler.h"
#include "futex.h"
#include "future.h"
#include "scheduler.h"
#include "waitset.h"

/* ---- waiter references and the completer's side ---- */

void weft__ws_put(struct waitset *ws)
{
    /* [WS3] acq_rel: see the Ordering block. */
    if (atomic_fetch_sub_explicit(&ws->refs, 1, memory_order_acq_rel) == 1)
        free(ws);
}

static void push_done(struct waitset *ws, struct ws_link *k)
{
#ifdef WEFT_TSAN
    __tsan_release(k); /* liburcu's atomics are not instrumented [WS1] */
#endif
    /* [WS1] a full-barrier CAS (liburcu's uatomic_cmpxchg): publishes the
     * node and orders the push before the word's completion [WS2]. */
    cds_lfs_push(&ws->done, &k->dnode);
}

/* Watcher callback: f != NULL once the future is done (on the completing
 * thread, or on a pruner's, listeners.c [LS3]); NULL when a prune discards the
 * link (its waiter is gone) or a future that never completed is freed. */
static void link_fire(struct weft__listener *l, weft_future *f)
{
    struct ws_link *k = weft_container_of(l, struct ws_link, l);
    struct waitset *ws = k->ws;
    if (f != NULL) {
        push_done(ws, k);
        /* [WS2]: publishes the push and wakes a sleeping consumer. */
        weft__word_complete(&ws->word, WEFT_FINISHED);
    }
    weft__ws_put(ws);
}

/* Prune predicate (listeners.c [LS3]): links of waiters whose consumer left. */
static bool link_stale(const struct weft__listener *l)
{
    const struct ws_link *k = weft_container_of(l, const struct ws_link, l);
    /* [WS4] relaxed: a hint; the link's own reference keeps k->ws alive. */
    return atomic_load_explicit(&k->ws->gone, memory_order_relaxed);
}

/* ---- the consumer's side ---- */

static void ready_append(struct waitset *ws, struct ws_link *k)
{
    k->next = NULL;
    *ws->ready_tail = k;
    ws->ready_tail = &k->next;
}

/* Reset the word, then move every completed link to the ready queue. */
static void take_completed(struct waitset *ws)
{
    /* [WS2] acquire exchange: must be an RMW, see the Ordering block. */
    (void)atomic_exchange_explicit(&ws->word, WEFT_PENDING, memory_order_acquire);
    /* [WS1] a full-barrier exchange (liburcu's uatomic_xchg) takes every
     * node pushed; pairs with push_done's CAS. */
    struct cds_lfs_head *head = __cds_lfs_pop_all(&ws->done);
    struct cds_lfs_node *n = head != NULL ? &head->node : NULL;
    struct ws_link *fifo = NULL;
    while (n != NULL) { /* reverse: oldest push first */
        struct ws_link *k = weft_container_of(n, struct ws_link, dnode);
#ifdef WEFT_TSAN
        __tsan_acquire(k);
#endif
        n = n->next;
        k->next = fifo;
        fifo = k;
    }
    while (fifo != NULL) {
        struct ws_link *next = fifo->next;
        ready_append(ws, fifo);
        fifo = next;
    }
}

/* Next link whose future is done, or NULL. A NULL return has reset the word
 * after the drain, which is what ws_block relies on. */
struct ws_link *weft__ws_pop(struct waitset *ws)
{
    if (ws->ready == NULL)
        take_completed(ws);
    struct ws_link *k = ws->ready;
    if (k == NULL)
        return NULL;
    ws->ready = k->next;
    if (ws->ready == NULL)
        ws->ready_tail = &ws->ready;
    ws->left--;
    return k;
}

static bool word_done(struct waitset *ws)
{
    /* [WS2] acquire: pairs with the completer's exchange (word.c [WD1]). */
    return weft__word_done(atomic_load_explicit(&ws->word, memory_order_acquire));
}

/* The first future ws still waits for, or NULL. A future stays done, so
 * the scan resumes where the last one stopped: over a whole wait it costs
 * O(nlinks), not O(nlinks) per block. */
static weft_future *first_undone(struct waitset *ws)
{
    while (ws->undone < ws->nlinks && weft_future_done(ws->links[ws->undone].f))
        ws->undone++;
    return ws->undone < ws->nlinks ? ws->links[ws->undone].f : NULL;
}

/* Nothing else to run: run one awaited future's task ourselves if it has
 * not started (what keeps deeply nested waits on one worker going). */
static bool run_awaited_one(void *arg, struct weft__worker *w)
{
    struct waitset *ws = arg;
    for (size_t i = ws->undone; i < ws->nlinks; i++) {
        weft_future *f = ws->links[i].f;
        if (!weft_future_done(f) && weft__future_try_run(f, w))
            return true;
    }
    return false;
}

/* The first future ws still waits for whose task is queued and unstarted
 * (future.h), of pool p if p is not NULL, or NULL. */
static weft_future *first_unstarted(const struct waitset *ws, const struct weft_pool *p)
{
    for (size_t i = ws->undone; i < ws->nlinks; i++) {
        weft_future *f = ws->links[i].f;
        if ((p == NULL || f->src->pool == p) && weft__future_unstarted(f))
            return f;
    }
    return NULL;
}

/* The needed test of weft__borrow_begin_if: an awaited task of p is
 * queued and unstarted, so p is not drained ([BR4]: the acquire load of
 * weft__future_unstarted). */
static bool awaited_unstarted(void *arg, const struct weft_pool *p)
{
    return first_unstarted(arg, p) != NULL;
}

/* True if every future ws still waits for is stranded (future.h): none
 * will ever complete, so sleeping would be for ever. Only a forked child
 * can hold such futures; the scan stops at the first live one. */
static bool all_stranded(const struct waitset *ws)
{
    for (size_t i = ws->undone; i < ws->nlinks; i++) {
        const weft_future *f = ws->links[i].f;
        if (!weft_future_done(f) && !weft__future_inherited(f))
            return false;
    }
    return true;
}

/* Wait until a link may have completed since the last ws_pop, which must
 * have returned NULL. Returns WEFT_OK (re-drain), WEFT_ETIMEDOUT or
 * WEFT_EBROKEN. The word uses the completion-word layout [WS2], so the
 * shared wait of wait.c does it. Only a wait that needs every future
 * (help: WEFT_ALL_COMPLETED without a deadline) helps on a worker: it runs
 * awaited tasks through the runner and leapfrogs onto the worker running
 * the first future still awaited, while that future is pending (its
 * completion can reach ws->word late, wait.h). Off a worker, such a wait
 * runs the same in a parked worker's place of the pool of the first
 * awaited future whose task has not started (wait.h). A wait that can
 * return early runs no task: one it ran inline could still be running,
 * under it, when the wait should have returned. Returns WEFT_EBROKEN
 * instead of sleeping when nothing it waits for can complete. */
int weft__ws_block(struct waitset *ws, const struct timespec *deadline, bool help)
{
    if (weft_unlikely(weft__fork_count() != 0) && all_stranded(ws))
        return WEFT_EBROKEN;
    if (deadline != NULL && weft__deadline_passed(deadline))
        return word_done(ws) ? WEFT_OK : WEFT_ETIMEDOUT;
    /* The caller's references keep f alive. */
    weft_future *f = first_undone(ws);
    struct weft__help h = {.runner = {.run = run_awaited_one, .arg = ws}};
    if (f != NULL)
        h.leap = weft__future_leap(f);
    if (!help || deadline != NULL)
        return weft__word_wait_fallback(&ws->word, deadline, &h);
    if (weft__self == NULL) {
        const weft_future *g = first_unstarted(ws, NULL);
        if (g != NULL) {
            h.runner.ready = awaited_unstarted;
            h.runner.pool = g->src->pool;
        }
    }
    return weft__word_wait_help(&ws->word, &h);
}

static size_t hash_ptr(const void *p, size_t mask)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    return (size_t)x & mask;
}

static void link_init(struct waitset *ws, weft_future *f, size_t index)
{
    struct ws_link *k = &ws->links[ws->nlinks++];
    k->l.fire = link_fire;
    k->ws = ws;
    k->f = f;
    k->index = index;
}

/* Give ws one link per distinct future of fs, in first-occurrence order
 * (an open-addressing set of the pointers seen so far). */
static int add_distinct(struct waitset *ws, weft_future *const *fs, size_t n)
{
    if (n <= 1) {
        if (n == 1)
            link_init(ws, fs[0], 0);
        return WEFT_OK;
    }
    if (n > SIZE_MAX / 4 / sizeof(weft_future *))
        return WEFT_ENOMEM;
    size_t cap = 4;
    while (cap < 2 * n)
        cap *= 2;
    weft_future **set = weft__calloc(cap, sizeof(*set));
    if (set == NULL)
        return WEFT_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        size_t h = hash_ptr(fs[i], cap - 1);
        while (set[h] != NULL && set[h] != fs[i])
            h = (h + 1) & (cap - 1);
        if (set[h] == NULL) {
            set[h] = fs[i];
            link_init(ws, fs[i], i);
        }
    }
    free(set);
    return WEFT_OK;
}

static struct waitset *ws_alloc(size_t n)
{
    if (n > (SIZE_MAX - sizeof(struct waitset) - WEFT_CACHE_LINE) / sizeof(struct ws_link))
        return NULL;
    size_t size = sizeof(struct waitset) + n * sizeof(struct ws_link);
    size = (size + WEFT_CACHE_LINE - 1) & ~(size_t)(WEFT_CACHE_LINE - 1);
    struct waitset *ws = weft__aligned_alloc(WEFT_CACHE_LINE, size);
    if (ws == NULL)
        return NULL;
    /* relaxed: ws is private until the first link is registered, and
     * registration (a release CAS, future.c [FU2]) publishes it. */
    atomic_store_explicit(&ws->word, WEFT_PENDING, memory_order_relaxed);
    __cds_lfs_init(&ws->done);
    atomic_store_explicit(&ws->refs, 1, memory_order_relaxed);
    atomic_store_explicit(&ws->gone, false, memory_order_relaxed);
    ws->ready = NULL;
    ws->ready_tail = &ws->ready;
    ws->nlinks = 0;
    ws->left = 0;
    ws->undone = 0;
    return ws;
}

/* Register every link. Links of futures already done (closed watcher
 * stacks) go to the ready queue at once, in fs order. */
static void ws_register(struct waitset *ws)
{
    /* relaxed: still private (see ws_alloc); each registered link then
     * owns one of these references [WS3]. */
    atomic_store_explicit(&ws->refs, 1 + ws->nlinks, memory_order_relaxed);
    size_t unused = 0;
    for (size_t j = 0; j < ws->nlinks; j++) {
        struct ws_link *k = &ws->links[j];
        if (!weft__future_watch(k->f, &k->l)) {
            ready_append(ws, k);
            unused++;
        }
    }
    ws->left = ws->nlinks;
    if (unused != 0)
        /* relaxed: the consumer's own reference keeps refs above zero;
         * its final ws_put (acq_rel) orders everything before the free. */
        atomic_fetch_sub_explicit(&ws->refs, unused, memory_order_relaxed);
}

/* Build and register a waiter for fs; with take_refs, take one reference on
 * each distinct future (the iterator's). Returns NULL when out of memory. */
struct waitset *weft__ws_create(weft_future *const *fs, size_t n, bool take_refs)
{
    struct waitset *ws = ws_alloc(n);
    if (ws == NULL)
        return NULL;
    if (add_distinct(ws, fs, n) != WEFT_OK) {
        free(ws);
        return NULL;
    }
    if (take_refs)
        for (size_t j = 0; j < ws->nlinks; j++)
            weft_future_ref(ws->links[j].f);
    ws_register(ws);
    return ws;
}

/* The consumer is done with ws: take its links off the futures that have
 * not completed [WS4]. The caller still holds its waiter reference and a
 * reference on every future. */
void weft__ws_leave(struct waitset *ws)
{
    /* [WS4] relaxed: see the Ordering block. */
    atomic_store_explicit(&ws->gone, true, memory_order_relaxed);
    if (ws->left == 0) /* every link fired and was popped */
        return;
    for (size_t j = 0; j < ws->nlinks; j++)
        if (!weft_future_done(ws->links[j].f))
            weft__future_prune(ws->links[j].f, link_stale);
}

