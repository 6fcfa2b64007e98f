/* Fork/join inside tasks: spawn records a child whose record lives in the
 * caller's stack frame; sync runs children that were not stolen inline and
 * helps (leapfrogging onto the thief) for the ones that were.
 *
 * Lazy publication (after Lace's split deque). A spawned child first goes on
 * the worker's private spawn stack (w->lazy, owner-only, no atomics). Spawn
 * and sync of a child that nobody asked for are inline functions in weft.h:
 * three stores into the record, a push and a pop of a plain array, and a
 * direct call; the child's task header and completion word are not even
 * written. A thief that finds a deque empty sets the owner's steal_req; at
 * its next spawn, sync or help step the owner publishes the running frame's
 * private children onto its Chase-Lev deque, oldest (largest) first, filling
 * in their headers (weft__child_expose), and wakes a sleeper with the fenced
 * notify. A frame only publishes its own children: those of outer frames
 * stay private until control returns there, so a nested (helping) frame
 * never exposes its ancestors' work below it. Loops whose leaves run long
 * (parallel_for) publish eagerly instead, so a thief never waits for a leaf
 * to end. This file holds everything but the inline fast paths.
 *
 * Frames of inline children. A child that sync runs inline (weft.h's fast
 * path, run_inline here) must not see its siblings: a helping wait inside
 * it that ran an older sibling could deadlock (the sibling waits for
 * something the child does after its wait, and the child cannot resume
 * under it). So its slot on the private stack becomes a mark, an odd word
 * holding the deque bottom at its start (WEFT__MARK), and the mark is
 * popped when it returns (it is on top again then: the child synced all it
 * spawned). A helping wait takes private children only above the innermost
 * mark and deque entries only above that mark's bottom (worker.c,
 * weft__help_one). Publication walks the whole running task's part of the
 * stack, oldest first, so thieves still get the outer frames' big
 * children; each mark it passes is set to the deque bottom at that point,
 * so the inner frame starts above what was pushed below it. It starts
 * above the highest mark whose frame already has entries on the deque
 * (mark bottom < deque bottom): outer children pushed above those would be
 * within reach of that frame's waits and pops. Children handed back by
 * weft_sync_take get no mark: the caller runs them as its own work.
 *
 * Ordering and invariants
 *   [GR1] A child is published to thieves by the deque push (deque.c [DQ1]);
 *         its header and word are written before that push, by the owner.
 *   [GR2] A stolen child's outcome (status, result) is written before
 *         weft__word_complete (acq_rel, wait.c [WT1]) and read after the
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

#include "alloc.h"
#include "future.h"
#include "pool.h"
#include "wait.h"

/* The runtime's part of a weft_child (its rt_ words). */
struct child_rt {
    struct weft__task task;               /* deque entry once exposed */
    _Atomic uint32_t word;                /* completion word (wait.h) once exposed */
    int status;                           /* a stolen child's status */
    weft__leap_hint thief;                /* who ran it when stolen [GR3] */
};
_Static_assert(sizeof(struct child_rt) <= sizeof(((weft_child *)0)->rt_),
               "weft_child.rt_ too small");
_Static_assert(offsetof(struct weft_ctx, head) == 0, "weft.h reads the ctx head first");

#define GROUP_EAGER 1u

static inline struct child_rt *rt_of(weft_child *c)
{
    return (struct child_rt *)(void *)c->rt_;
}

static inline weft_child *child_of(struct weft__task *t)
{
    struct child_rt *rt = weft_container_of(t, struct child_rt, task);
    return (weft_child *)(void *)((char *)rt - offsetof(weft_child, rt_));
}

static inline struct weft__worker *group_worker(const weft_group *g)
{
    return g->ctx_ != NULL ? g->ctx_->worker : NULL;
}

/* Run c's function on w. */
static inline int run_child(struct weft__worker *w, weft_child *c)
{
    c->result_ = NULL;
    return c->fn_(w->lazy.ctx, c->arg_, &c->result_);
}

static bool lazy_grow(struct weft__lazy *l);

/* Run c inline as a frame of its own (see "Frames of inline children"):
 * a mark on top of the private stack while it runs. c was already removed
 * from the private stack or the deque. Without memory for the mark, c runs
 * in the caller's frame, as weft_sync_take's children do. */
static int run_inline(struct weft__worker *w, weft_child *c)
{
    struct weft__lazy *l = &w->lazy;
    if (weft_unlikely(l->n == l->cap) && !lazy_grow(l))
        return run_child(w, c);
    l->items[l->n++] = weft__mark_here(l);
    int s = run_child(w, c);
    l->n--; /* the mark, on top again: c synced everything above it */
    return s;
}

/* A thief (or a helping wait) runs an exposed child. */
static void child_exec(struct weft__task *t, struct weft__worker *w)
{
    weft_child *c = child_of(t);
    struct child_rt *rt = rt_of(c);
    weft__leap_hint_set(&rt->thief, w); /* [GR3] */
    rt->status = run_child(w, c);
    /* [GR2] publishes status and result; c may vanish right after. */
    weft__word_complete(&rt->word, WEFT_FINISHED);
}

struct weft__task *weft__child_expose(struct weft__worker *w, weft_child *c)
{
    struct child_rt *rt = rt_of(c);
    w->lazy.open++; /* until sync_one meets it exposed */
    rt->task.exec = child_exec;
    /* relaxed: published with the record by the deque push [GR1]. */
    atomic_store_explicit(&rt->word, WEFT_PENDING, memory_order_relaxed);
    atomic_store_explicit(&rt->thief, NULL, memory_order_relaxed);
    return &rt->task;
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

/* Double the private stack. Returns false when memory is short. */
static bool lazy_grow(struct weft__lazy *l)
{
    if (l->cap > UINT_MAX / 2)
        return false;
    weft_child **items = weft__realloc(l->items, 2 * (size_t)l->cap * sizeof(*items));
    if (items == NULL)
        return false;
    l->items = items;
    l->cap *= 2;
    return true;
}

/* Make c stealable on w's deque. When the deque cannot grow either, c runs
 * here and now, in a frame of its own, and its sync finds it done: the
 * injection queue is no place for a child, since a syncing worker never
 * looks there, and a pool of one worker would run it only on a spare
 * thread, which needs memory too. */
static void push_child(struct weft__worker *w, weft_child *c)
{
    struct weft__task *t = weft__child_expose(w, c);
    if (weft__deque_push(&w->dq, t, 0) == 0)
        weft__notify(w->pool);
    else
        weft__run(w, t);
}

/* Keep c private, publishing when a thief asked. When the stack is full
 * and cannot grow, publish this frame's children; if the stack holds only
 * outer frames' (which must stay private, see the header), push c. */
static void spawn_private(struct weft__worker *w, weft_child *c)
{
    struct weft__lazy *l = &w->lazy;
    if (weft_unlikely(l->n == l->cap) && !lazy_grow(l)) {
        weft__publish(w);
        if (l->n == l->cap) {
            push_child(w, c);
            return;
        }
    }
    l->items[l->n++] = c;
    /* relaxed: a hint (weft__publish). */
    if (weft_unlikely(weft__steal_requested(&w->lazy)))
        weft__publish(w);
}

int weft__spawn_slow(weft_group *g, weft_child *c, weft_fn fn, void *arg)
{
    if (g == NULL || c == NULL || fn == NULL)
        return WEFT_EINVAL;
    struct weft__worker *w = group_worker(g);
    if (w == NULL || w != weft__self)
        return WEFT_EPERM;
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

/* Remove c from the private stack if it is there (normally on top; groups
 * synced out of nesting order find it lower). Only the running task's part
 * of the stack, [base, n), is searched: a group is spawned into and synced
 * by the task that owns it, so its private children are there; deeper
 * entries belong to outer tasks (a deep recursion can hold thousands). */
static __attribute__((noinline)) bool take_private_slow(struct weft__worker *w, weft_child *c)
{
    struct weft__lazy *l = &w->lazy;
    /* relaxed: a hint; a thief wants work, so publish the rest first. */
    if (weft__steal_requested(&w->lazy)) {
        if (l->n > w->lazy.base && l->items[l->n - 1] == c) {
            l->n--; /* keep c for ourselves, publish the older ones */
            weft__publish(w);
            return true;
        }
        weft__publish(w);
    }
    for (unsigned i = l->n; i-- > l->base && !weft__is_mark(l->items[i]);) {
        if (l->items[i] == c) {
            memmove(&l->items[i], &l->items[i + 1], (l->n - 1 - i) * sizeof(l->items[0]));
            l->n--;
            return true;
        }
    }
    return false;
}

static inline bool take_private(struct weft__worker *w, weft_child *c)
{
    struct weft__lazy *l = &w->lazy;
    unsigned n = l->n;
    /* relaxed: a hint (weft__publish). */
    if (weft_likely(weft__private_top(l, n, c))) {
        l->n = n - 1;
        return true;
    }
    return take_private_slow(w, c);
}

/* Wait for one child and return its status: run it inline if it is still
 * private; otherwise pop our deque until we meet it (the dependent tasks
 * above it were pushed after it by this task; independent ones, e.g. a
 * nested submit, are set aside) or find it stolen. Past the stack bound
 * nothing runs inline: the children are published and the wait blocks. */
static int sync_one(struct weft__worker *w, weft_child *c, bool eager)
{
    bool room = weft__stack_room(w);
    if (!eager && room && take_private(w, c))
        return run_inline(w, c);
    if (!room) {
        weft__publish(w); /* c too, if it was private */
        /* The deque could not grow, so c stayed private: run it here
         * rather than wait for what no other thread can see. */
        if (!eager && take_private(w, c))
            return run_inline(w, c);
    }
    w->lazy.open--; /* exposed (weft__child_expose); synced below */
    struct child_rt *rt = rt_of(c);
    while (room) {
        /* A helping wait earlier in this task may have run c already (it
         * takes our children off the deque); then nothing below c is ours.
         * [GR2] acquire: pairs with child_exec's completion. */
        if (weft__phase_done(atomic_load_explicit(&rt->word, memory_order_acquire)))
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
    if (g->last_ == NULL)
        return status;
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
    return status;
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
    if (l->n <= l->base || l->items[l->n - 1] != c || !take_private(w, c))
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
    int sb = weft__sync_slow(&g, WEFT_OK);
    return sa != 0 ? sa : sb;
}
