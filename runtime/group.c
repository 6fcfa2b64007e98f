/* Fork/join inside tasks: spawn records a child whose record lives in the
 * caller's stack frame; sync runs children that were not stolen inline and
 * helps (leapfrogging onto the thief) for the ones that were. Children go
 * on the worker's private spawn stack and are published to thieves on
 * request (lazy.c, "Lazy publication"); loops whose leaves run long
 * (parallel_for) publish eagerly instead, so a thief never waits for a leaf
 * to end. A child that sync runs inline gets a frame of its own (lazy.c,
 * "Frames of inline children"). This file holds everything but weft.h's
 * inline fast paths.
 *
 * Ordering and invariants
 *   [GR1] A child is published to thieves by the deque push (deque.c [DQ1]);
 *         its header and word are written before that push, by the owner.
 *   [GR2] A stolen child's outcome (status, result) is written before
 *         weft__word_complete (acq_rel, word.c [WD1]) and read after the
 *         syncing worker's acquire load of the word sees it done.
 *   [GR3] thief: relaxed store by the thief before running the child
 *         (weft__leap_hint_set), relaxed loads by the syncing worker's
 *         helping wait; only a hint for leapfrogging.
 *   A child's word is meaningful only once the child left the private stack
 *   (exposed): sync looks for it on the private stack first.
 *   Strict fork/join: children are synced in reverse spawn order; a child not
 *   in the deque when its turn comes was stolen, because thieves take the
 *   oldest entries first, so everything above it was popped by us already.
 *   The record must outlive the child: sync returns only after the child's
 *   word is complete, and the completer touches nothing of it afterwards. */
#define WEFT_NO_INLINE /* this file defines the library functions */
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "group.h"
#include "scheduler.h"

_Static_assert(offsetof(struct weft_ctx, head) == 0, "weft.h reads the ctx head first");

#define GROUP_EAGER 1u

static inline struct weft__worker *group_worker(const weft_group *g)
{
    return g->ctx_ != NULL ? g->ctx_->worker : NULL;
}

/* Run c inline as a frame of its own (see "Frames of inline children"):
 * a mark on top of the private stack while it runs. c was already removed
 * from the private stack or the deque. Without memory for the mark, c runs
 * in the caller's frame, as weft_sync_take's children do. */
static int run_inline(struct weft__worker *w, weft_child *c)
{
    struct weft__lazy *l = &w->lazy;
    if (weft_unlikely(l->n == l->cap) && !weft__lazy_grow(w))
        return weft__child_call(w, c);
    l->items[l->n++] = weft__mark_here(l);
    int s = weft__child_call(w, c);
    l->n--; /* the mark, on top again: c synced everything above it */
    return s;
}

void(weft_group_init)(weft_group *g, weft_ctx *ctx)
{
    weft__group_init_inline(g, ctx);
}

void weft__group_init_eager(weft_group *g, weft_ctx *ctx)
{
    weft_group_init(g, ctx);
    g->lazy_ = NULL; /* keeps weft.h's inline paths out */
    g->flags_ = GROUP_EAGER;
}

/* Make c stealable on w's deque. When the deque cannot grow either, c runs
 * here and now, in a frame of its own, and its sync finds it done: the
 * injection queue is no place for a child, since a syncing worker never
 * looks there, and a pool of one worker would run it only on a spare
 * thread, which needs memory too. */
static void push_child(struct weft__worker *w, weft_child *c)
{
    struct weft__task *t = weft__child_push(w, c);
    if (t != NULL)
        weft__run(w, t);
}

/* Keep c private, publishing when a thief asked. When the stack is full
 * and cannot grow, publish this frame's children; if the stack holds only
 * outer frames' (which must stay private, see the header), push c. */
static void spawn_private(struct weft__worker *w, weft_child *c)
{
    struct weft__lazy *l = &w->lazy;
    if (weft_unlikely(l->n == l->cap) && !weft__lazy_grow(w)) {
        weft__publish(w);
        if (l->n == l->cap) {
            push_child(w, c);
            return;
        }
    }
    l->items[l->n++] = c;
    /* relaxed: a hint (weft__publish). */
    if (weft_unlikely(weft__steal_requested(l)))
        weft__publish_half(w);
}

/* Keep a failed spawn in g for its next sync (weft.h): the first one. */
static int spawn_failed(weft_group *g, int rc)
{
    if (!(g->flags_ & WEFT__GROUP_SPAWN_FAILED))
        g->flags_ |= WEFT__GROUP_SPAWN_FAILED | ((uintptr_t)(unsigned)-rc << 8);
    return rc;
}

/* The failure spawn_failed kept, once; 0 if none. */
static int take_spawn_failure(weft_group *g)
{
    if (!(g->flags_ & WEFT__GROUP_SPAWN_FAILED))
        return WEFT_OK;
    int rc = -(int)(unsigned)(g->flags_ >> 8);
    g->flags_ &= GROUP_EAGER;
    return rc;
}

int weft__spawn_slow(weft_group *g, weft_child *c, weft_fn fn, void *arg)
{
    if (g == NULL)
        return WEFT_EINVAL;
    if (c == NULL || fn == NULL)
        return spawn_failed(g, WEFT_EINVAL);
    struct weft__worker *w = group_worker(g);
    if (w == NULL || w != weft__self)
        return spawn_failed(g, WEFT_EPERM);
    c->fn_ = fn;
    c->arg_ = arg;
    c->prev_ = g->last_;
    g->last_ = c;
    if (g->flags_ & GROUP_EAGER)
        push_child(w, c);
    else
        spawn_private(w, c);
    return WEFT_OK;
}

int(weft_spawn)(weft_group *g, weft_child *slot, weft_fn fn, void *arg)
{
    return weft__spawn_slow(g, slot, fn, arg);
}

/* Wait for one child and return its status: run it inline if it is still
 * private; otherwise pop our deque until we meet it (the dependent tasks
 * above it were pushed after it by this task; independent ones, e.g. a
 * nested submit, are set aside) or find it stolen. Past the stack bound
 * nothing runs inline: the children are published and the wait blocks. */
static int sync_one(struct weft__worker *w, weft_child *c, bool eager)
{
    bool room = weft__stack_room(w);
    if (!eager && room && weft__lazy_take(w, c))
        return run_inline(w, c);
    if (!room) {
        weft__publish(w); /* c too, if it was private */
        /* The deque could not grow, so c stayed private: run it here
         * rather than wait for what no other thread can see. */
        if (!eager && weft__lazy_take(w, c))
            return run_inline(w, c);
    }
    w->lazy.open--; /* exposed (weft__child_expose); synced below */
    struct weft__child_rt *rt = weft__child_rt(c);
    while (room) {
        /* A helping wait earlier in this task may have run c already (it
         * takes our children off the deque); then nothing below c is ours.
         * [GR2] acquire: pairs with lazy.c's child_run completion. */
        if (weft__word_done(weft__word_load(&rt->word)))
            return rt->status;
        struct weft__task *t = weft__take_dependent(w, INT64_MIN);
        if (t == &rt->task)
            return run_inline(w, c);
        if (t == NULL)
            break;
        weft__run(w, t);
    }
    /* Stolen: help with the frame's own children and, leapfrogging, with
     * the thief's [GR3]. */
    struct weft__help h = {.leap = {.hint = &rt->thief, .word = &rt->word}, .own = true};
    weft__word_wait_help(&rt->word, &h);
    return rt->status;
}

int weft__sync_slow(weft_group *g, int status)
{
    if (g == NULL)
        return WEFT_EINVAL;
    int failed = take_spawn_failure(g);
    if (g->last_ == NULL)
        return status != WEFT_OK ? weft__task_failed(status) : failed;
    struct weft__worker *w = group_worker(g);
    if (w == NULL || w != weft__self)
        return WEFT_EPERM;
    bool eager = g->flags_ & GROUP_EAGER;
    weft_child *c;
    while ((c = g->last_) != NULL) {
        g->last_ = c->prev_;
        int s = sync_one(w, c, eager);
        if (status == WEFT_OK)
            status = s;
    }
    return status != WEFT_OK ? weft__task_failed(status) : failed;
}

weft_child *weft__sync_take_slow(weft_group *g)
{
    if (g == NULL || g->last_ == NULL || (g->flags_ & GROUP_EAGER))
        return NULL;
    struct weft__worker *w = group_worker(g);
    if (w == NULL || w != weft__self)
        return NULL;
    weft_child *c = g->last_;
    /* Only the top of the private stack: a child below it was published
     * (and maybe stolen) and is weft_sync's. A thief's request is answered
     * here as in sync: the older children are published, c is kept. */
    struct weft__lazy *l = &w->lazy;
    if (l->n <= l->base || l->items[l->n - 1] != c || !weft__lazy_take(w, c))
        return NULL;
    g->last_ = c->prev_;
    return c;
}

weft_child *(weft_sync_take)(weft_group *g)
{
    return weft__sync_take_inline(g);
}

int(weft_sync)(weft_group *g)
{
    return weft__sync_slow(g, WEFT_OK);
}

void *(weft_child_result)(const weft_child *slot)
{
    return weft__child_result_inline(slot);
}

int weft_join(weft_ctx *ctx, weft_fn a, void *arg_a, weft_fn b, void *arg_b)
{
    if (ctx == NULL || a == NULL || b == NULL)
        return WEFT_EINVAL;
    weft_group g;
    weft_child cb;
    weft_group_init(&g, ctx);
    int rc = weft__spawn_slow(&g, &cb, b, arg_b);
    if (rc != WEFT_OK)
        return rc;
    void *ignored = NULL;
    int sa = a(ctx, arg_a, &ignored);
    if (sa != 0)
        sa = weft__task_status_of(sa);
    int sb = weft__sync_slow(&g, WEFT_OK); /* WEFT_ETASK: b's status recorded */
    return sa != 0 ? weft__task_failed(sa) : sb;
}
