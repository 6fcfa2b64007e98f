/* Fork/join inside tasks: spawn records a child whose record lives in the
 * caller's stack frame; sync runs children that were not stolen inline and
 * helps (leapfrogging onto the thief) for the ones that were.
 *
 * Lazy publication (after Lace's split deque). A spawned child first goes on
 * the worker's private array (w->priv, owner-only, no atomics); spawn and sync
 * of a child that nobody asked for cost plain loads and stores, no fence. A
 * thief that finds a deque empty sets the owner's steal_req; at its next
 * spawn, sync or help step the owner publishes the running frame's private
 * children onto its Chase-Lev deque, oldest (largest) first, and wakes a
 * sleeper with the fenced notify. A frame only publishes its own children:
 * those of outer frames stay private until control returns there, so a
 * nested (helping) frame never exposes its ancestors' work below it.
 * Loops whose leaves run long (parallel_for) publish eagerly instead, so a
 * thief never waits for a leaf to end.
 *
 * Ordering and invariants
 *   [GR1] A child is published to thieves by the deque push (deque.c [DQ1]).
 *   [GR2] A stolen child's outcome (status, result) is written before
 *         weft__word_complete (acq_rel, wait.c [WT1]) and read after the
 *         syncing worker's acquire load of the word sees it done.
 *   [GR3] thief: relaxed store by the thief before running the child, relaxed
 *         load by the syncing worker; only a hint for leapfrogging.
 *   Strict fork/join: children are synced in reverse spawn order; a child not
 *   in the deque when its turn comes was stolen, because thieves take the
 *   oldest entries first, so everything above it was popped by us already.
 *   The record must outlive the child: sync returns only after the child's
 *   word is complete, and the completer touches nothing of it afterwards. */
#include <string.h>

#include "future.h"
#include "pool.h"
#include "wait.h"

struct child {
    struct weft__task task;              /* deque entry */
    _Atomic uint32_t word;               /* completion word (wait.h) */
    int status;
    weft_fn fn;
    void *arg;
    void *result;
    struct child *prev;                  /* the group's previous child */
    _Atomic(struct weft__worker *) thief; /* who ran it when stolen */
};

struct group {
    struct weft__worker *worker; /* the worker running the owning task */
    struct child *last;          /* most recent unsynced child */
    bool eager;                  /* publish children at once */
};

_Static_assert(sizeof(struct child) <= sizeof(weft_child), "weft_child too small");
_Static_assert(sizeof(struct group) <= sizeof(weft_group), "weft_group too small");

static inline struct child *as_child(weft_child *c)
{
    return (struct child *)(void *)c;
}

static inline struct group *as_group(weft_group *g)
{
    return (struct group *)(void *)g;
}

/* A thief runs a stolen child. */
static void child_exec(struct weft__task *t, struct weft__worker *w)
{
    struct child *c = weft_container_of(t, struct child, task);
    /* [GR3] relaxed: a hint for the syncing worker. */
    atomic_store_explicit(&c->thief, w, memory_order_relaxed);
    struct weft_ctx ctx = {.worker = w, .future = NULL};
    void *result = NULL;
    c->status = c->fn(&ctx, c->arg, &result);
    c->result = result;
    /* [GR2] publishes status and result; c may vanish right after. */
    weft__word_complete(&c->word, WEFT_FINISHED);
}

void weft_group_init(weft_group *g, weft_ctx *ctx)
{
    if (g == NULL)
        return;
    struct group *gr = as_group(g);
    memset(g, 0, sizeof(*g));
    gr->worker = ctx ? ctx->worker : NULL;
}

void weft__group_init_eager(weft_group *g, weft_ctx *ctx)
{
    weft_group_init(g, ctx);
    as_group(g)->eager = true;
}

/* Keep c private, publishing when a thief asked or the array is full. */
static void spawn_private(struct weft__worker *w, struct child *c)
{
    if (weft_unlikely(w->npriv == WEFT_PRIV_MAX)) {
        weft__publish(w);
        if (w->npriv == WEFT_PRIV_MAX) { /* all private entries are outer frames' */
            weft__push_local(w, &c->task);
            return;
        }
    }
    w->priv[w->npriv++] = &c->task;
    /* relaxed: a hint (weft__publish). */
    if (weft_unlikely(atomic_load_explicit(&w->steal_req, memory_order_relaxed)))
        weft__publish(w);
}

int weft_spawn(weft_group *g, weft_child *slot, weft_fn fn, void *arg)
{
    if (g == NULL || slot == NULL || fn == NULL)
        return WEFT_EINVAL;
    struct group *gr = as_group(g);
    struct weft__worker *w = gr->worker;
    if (w == NULL || w != weft__self)
        return WEFT_EPERM;
    struct child *c = as_child(slot);
    c->task.exec = child_exec;
    /* relaxed: published with the record by the deque push [GR1]. */
    atomic_store_explicit(&c->word, WEFT_PENDING, memory_order_relaxed);
    atomic_store_explicit(&c->thief, NULL, memory_order_relaxed);
    c->status = 0;
    c->fn = fn;
    c->arg = arg;
    c->result = NULL;
    c->prev = gr->last;
    gr->last = c;
    w->open_children++;
    if (gr->eager)
        weft__push_local(w, &c->task);
    else
        spawn_private(w, c);
    return WEFT_OK;
}

/* Run child c inline on w (it was still at the bottom of our deque). */
static void run_inline(struct weft__worker *w, struct child *c)
{
    struct weft_ctx ctx = {.worker = w, .future = NULL};
    void *result = NULL;
    c->status = c->fn(&ctx, c->arg, &result);
    c->result = result;
}

/* Remove c from the private array if it is there (normally on top; groups
 * synced out of nesting order find it lower). */
static __attribute__((noinline)) bool take_private_slow(struct weft__worker *w,
                                                        struct child *c)
{
    /* relaxed: a hint; a thief wants work, so publish the rest first. */
    if (atomic_load_explicit(&w->steal_req, memory_order_relaxed)) {
        if (w->npriv > w->frame_priv && w->priv[w->npriv - 1] == &c->task) {
            w->npriv--; /* keep c for ourselves, publish the older ones */
            weft__publish(w);
            return true;
        }
        weft__publish(w);
    }
    for (unsigned i = w->npriv; i-- > 0;) {
        if (w->priv[i] == &c->task) {
            memmove(&w->priv[i], &w->priv[i + 1], (w->npriv - 1 - i) * sizeof(w->priv[0]));
            w->npriv--;
            return true;
        }
    }
    return false;
}

/* The common case inline: c on top of the private array, nobody asking. */
static inline bool take_private(struct weft__worker *w, struct child *c)
{
    unsigned n = w->npriv;
    /* relaxed: a hint (weft__publish). */
    if (weft_likely(n != 0 && w->priv[n - 1] == &c->task &&
                    !atomic_load_explicit(&w->steal_req, memory_order_relaxed))) {
        w->npriv = n - 1;
        return true;
    }
    return take_private_slow(w, c);
}

/* Wait for one child: pop our deque until we meet it (anything above it was
 * pushed after it by this task, e.g. a nested submit) or find it stolen. */
static void sync_one(struct weft__worker *w, struct child *c)
{
    for (;;) {
        /* A helping wait earlier in this task may have run c already (it
         * takes our children off the deque); then nothing below c is ours.
         * [GR2] acquire: pairs with child_exec's completion. */
        if (weft__phase_done(atomic_load_explicit(&c->word, memory_order_acquire)))
            return;
        if (take_private(w, c)) {
            run_inline(w, c);
            return;
        }
        struct weft__task *t = weft__deque_take(&w->dq);
        if (t == &c->task) {
            run_inline(w, c);
            return;
        }
        if (t == NULL)
            break;
        weft__run(w, t);
    }
    /* Stolen: help, leapfrogging onto the thief first [GR3]. */
    weft__word_wait(&c->word, atomic_load_explicit(&c->thief, memory_order_relaxed), NULL);
}

int weft_sync(weft_group *g)
{
    if (g == NULL)
        return WEFT_EINVAL;
    struct group *gr = as_group(g);
    struct weft__worker *w = gr->worker;
    if (gr->last == NULL)
        return WEFT_OK;
    if (w == NULL || w != weft__self)
        return WEFT_EPERM;
    int status = WEFT_OK;
    while (gr->last != NULL) {
        struct child *c = gr->last;
        gr->last = c->prev;
        sync_one(w, c);
        w->open_children--;
        if (status == WEFT_OK)
            status = c->status;
    }
    return status;
}

void *weft_child_result(const weft_child *slot)
{
    return slot ? ((const struct child *)(const void *)slot)->result : NULL;
}

int weft_join(weft_ctx *ctx, weft_fn a, void *arg_a, weft_fn b, void *arg_b)
{
    if (ctx == NULL || a == NULL || b == NULL)
        return WEFT_EINVAL;
    weft_group g;
    weft_child cb;
    weft_group_init(&g, ctx);
    int rc = weft_spawn(&g, &cb, b, arg_b);
    if (rc != WEFT_OK)
        return rc;
    void *ignored = NULL;
    int sa = a(ctx, arg_a, &ignored);
    int sb = weft_sync(&g);
    return sa != 0 ? sa : sb;
}
