/* Fork/join inside tasks: spawn records a child in the top slot of the
 * worker's spawn stack; sync runs children that were not stolen inline and
 * helps (leapfrogging onto the thief) for the ones that were. Children go
 * on the worker's spawn stack and are published to thieves on
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
 *   The slot must outlive the child: sync pops it only after the child's
 *   word is complete, and the completer touches nothing of it afterwards. */
#define WEFT_NO_INLINE /* this file defines the library functions */
#include <stddef.h>

#include "group.h"
#include "scheduler.h"


/* The worker whose spawn stack l is, if that is this thread's. */
static inline struct weft__worker *stack_worker(const struct weft__lazy *l)
{
    struct weft__worker *w = weft__self;
    return w != NULL && l == &w->ctx.lazy ? w : NULL;
}

/* Run s inline as a frame of its own (see "Frames of inline children"):
 * a mark on top of the spawn stack while it runs. A thief's request is
 * answered first, with the older children below the mark. */
static void run_inline(struct weft__worker *w, struct weft__slot *s)
{
    weft__slot_mark(w, s);
    if (weft__lazy_asked(w))
        weft__publish_half(w);
    weft__slot_call(w, s);
    weft__slot_unmark(w, s);
}

void(weft_group_init)(weft_group *g, weft_ctx *ctx)
{
    weft__group_init_inline(g, ctx);
}

/* Make s stealable on w's deque. When the deque cannot grow either, s runs
 * here and now, in a frame of its own, and its sync finds it done: the
 * injection queue is no place for a child, since a syncing worker never
 * looks there, and a pool of one worker would run it only on a spare
 * thread, which needs memory too. */
static void push_child(struct weft__worker *w, struct weft__slot *s)
{
    struct weft__task *t = weft__child_push(w, s);
    if (t != NULL)
        weft__run(w, t);
}

/* Keep a failed spawn for the sync: a slot that says so, in the reserve
 * slot past end if the stack is full. When the slot below says so already
 * (or no room is left at all), the first failure is what the sync reports. */
static void spawn_failed(struct weft__worker *w, int rc)
{
    struct weft__lazy *l = &w->ctx.lazy;
    struct weft__slot *s = l->top;
    if (s > l->base && s[-1].ops == WEFT__SLOT_FAILED)
        return;
    if (s <= l->end) { /* end itself is the reserve */
        s->ops = WEFT__SLOT_FAILED;
        s->arg = (void *)(intptr_t)rc;
        l->top = s + 1;
    }
}

/* Record a child in the top slot. Returns it, or NULL (a failure kept). */
static struct weft__slot *slot_push(struct weft__worker *w, weft_fn fn, void *arg,
                                    void **result, int *rc)
{
    struct weft__lazy *l = &w->ctx.lazy;
    struct weft__slot *s = l->top;
    *rc = fn == NULL ? WEFT_EINVAL : s >= l->end ? WEFT_ENOMEM : WEFT_OK;
    if (*rc != WEFT_OK) {
        spawn_failed(w, *rc);
        return NULL;
    }
    s->fn = fn;
    s->arg = arg;
    s->out = result;
    l->top = s + 1;
    return s;
}

int weft__spawn_slow(struct weft__lazy *l, weft_fn fn, void *arg, void **result)
{
    struct weft__worker *w = stack_worker(l);
    if (w == NULL)
        return WEFT_EPERM;
    bool asked = weft__lazy_asked(w);
    int rc;
    (void)slot_push(w, fn, arg, result, &rc);
    if (asked)
        weft__publish_half(w);
    return rc;
}

int weft__spawn_eager(weft_group *g, weft_fn fn, void *arg, void **result)
{
    struct weft__worker *w = stack_worker(g->lazy_);
    if (w == NULL)
        return WEFT_EPERM;
    int rc;
    struct weft__slot *s = slot_push(w, fn, arg, result, &rc);
    if (s != NULL)
        push_child(w, s);
    g->top_ = w->ctx.lazy.top;
    return rc;
}

int(weft_spawn)(weft_group *g, weft_fn fn, void *arg, void **result)
{
    return g != NULL ? weft__spawn_slow(g->lazy_, fn, arg, result) : WEFT_EINVAL;
}

/* Wait for the child in s, the top slot, and leave its status and result
 * in the slot: run it inline if it is still private; otherwise pop our
 * deque until we meet it (the dependent tasks above it were pushed after
 * it by this task; independent ones, e.g. a nested submit, are set aside)
 * or find it stolen. Past the stack bound nothing runs inline: the
 * children are published and the wait blocks. */
static void sync_one(struct weft__worker *w, struct weft__slot *s)
{
    bool room = weft__stack_room(w);
    struct weft__lazy *l = &w->ctx.lazy;
    if (room && weft__slot_private(l, s)) {
        run_inline(w, s);
        return;
    }
    if (!room) {
        weft__publish(w); /* s too, if it was private */
        /* The deque could not grow, so s stayed private: run it here
         * rather than wait for what no other thread can see. */
        if (weft__slot_private(l, s)) {
            run_inline(w, s);
            return;
        }
    }
    /* A batch member is done when its batch is. */
    struct weft__slot *waited = weft__slot_member(l, s) ? l->batches : s;
    bool single = waited->ops != w->pool->batch_ops;
    struct weft__slot_rt *rt = weft__slot_rt(waited);
    while (room) {
        /* A helping wait earlier in this task may have run s already (it
         * takes our children off the deque); then nothing below s is ours.
         * [GR2] acquire: pairs with lazy.c's child_run completion and
         * batch_run's. */
        if (weft__word_done(weft__word_load(&rt->word)))
            return;
        struct weft__task *t = weft__take_dependent(w, INT64_MIN);
        if (t == &rt->task && single) {
            run_inline(w, s);
            return;
        }
        if (t == NULL)
            break;
        weft__run(w, t); /* our batch too: it runs as a task of its own */
    }
    /* Stolen: help with the frame's own children and, leapfrogging, with
     * the thief's [GR3]. */
    struct weft__help h = {.leap = {.hint = &rt->thief, .word = &rt->word}, .own = true};
    weft__word_wait_help(&rt->word, &h);
}

/* Sync and pop the top slot (above base): its child's status, or the
 * error of the failed spawn it records; *value: the child's result. */
static int pop_one(struct weft__worker *w, void **value)
{
    struct weft__lazy *l = &w->ctx.lazy;
    struct weft__slot *s = l->top - 1;
    int rc;
    if (s->ops == WEFT__SLOT_FAILED) {
        rc = (int)(intptr_t)s->arg;
        *value = NULL;
    } else {
        sync_one(w, s); /* its runner delivered the result to s->out */
        rc = weft__slot_rt(s)->status;
        *value = weft__slot_rt(s)->value;
        if (s->ops == w->pool->batch_ops)
            l->batches = weft__batch_prev(s); /* its last member synced */
    }
    weft__slot_clear(s);
    s->ops = NULL; /* free again */
    weft__lazy_pop(l, s);
    return rc;
}

int weft__sync_slow(struct weft__lazy *l, struct weft__slot *base)
{
    struct weft__worker *w = stack_worker(l);
    if (w == NULL)
        return WEFT_EPERM;
    /* The first failing child in sync order (the newest) and the oldest
     * failed spawn: a child's failure wins (weft.h). */
    int status = WEFT_OK, failed = WEFT_OK;
    bool room = weft__stack_room(w);
    while (l->top > base) {
        struct weft__slot *s = l->top - 1;
        /* The common case in a few instructions: a private child and no
         * thief asking (relaxed: a hint, [LZ1]) runs inline, in a frame of
         * its own, and its slot is freed. */
        if (weft_likely(room && weft__slot_private(l, s) && weft__bound(l) == l->end)) {
            weft__slot_mark(w, s);
            void *value = NULL;
            weft_future *outer = weft__ctx_swap(w, NULL);
            int r = s->fn(&w->ctx, s->arg, &value);
            weft__ctx_swap(w, outer);
            weft__slot_unmark(w, s);
            if (s->out != NULL)
                *s->out = value;
            if (weft_unlikely(r != 0) && status == WEFT_OK)
                status = weft__task_status_of(r);
            s->ops = NULL;
            weft__lazy_pop(l, s); /* a publication in it moves split over s */
            continue;
        }
        /* Members of a clean batch that ran hold nothing to read (their
         * runners delivered the results): all of them above base go at
         * once. [GR2] acquire: pairs with batch_run's completion. */
        if (weft__slot_member(l, s)) {
            struct weft__slot *head = l->batches;
            uint32_t done = weft__word_load(&weft__slot_rt(head)->word);
            if (weft__word_done(done) && (done & WEFT__BATCH_CLEAN)) {
                weft__lazy_pop(l, head + 1 > base ? head + 1 : base);
                continue;
            }
        }
        bool spawn = s->ops == WEFT__SLOT_FAILED;
        void *value;
        int rc = pop_one(w, &value);
        if (spawn)
            failed = rc;
        else if (rc != 0 && status == WEFT_OK)
            status = rc;
    }
    return status != WEFT_OK ? weft__task_failed(status) : failed;
}

struct weft__took weft__sync_take_slow(struct weft__lazy *l, struct weft__slot *base)
{
    struct weft__took t = {.rc = WEFT_EPERM, .value = NULL};
    struct weft__worker *w = stack_worker(l);
    if (w == NULL)
        return t;
    if (l->top <= base) {
        t.rc = WEFT_EOF;
        return t;
    }
    struct weft__slot *s = l->top - 1;
    if (weft__slot_private(l, s)) {
        /* The inline path's case, from WEFT_NO_INLINE code. */
        l->top = s;
        if (weft__lazy_asked(w)) /* answer a thief: s is kept */
            weft__publish_half(w);
        t.rc = 1;
        t.value = s->arg;
        return t;
    }
    bool spawn = s->ops == WEFT__SLOT_FAILED;
    int rc = pop_one(w, &t.value);
    t.rc = rc == 0 || spawn ? rc : weft__task_failed(rc);
    return t;
}

/* ---- batches ----------------------------------------------------------------
 *
 * A batch is a stretch of adjacent slots of one frame that publication
 * handed to the deque as one entry (lazy.c): its head slot's task, with
 * the batch's end in its value and one completion word for all. Whoever
 * takes it (a thief, or the owner's own sync) runs its children (the
 * slots with ops NULL, and the head) oldest first, each as a frame of its
 * own, offering the older half of what is left as a private part of its
 * own (run_range), so a batch spreads over the pool as a range does. Each
 * child's result goes to its spawn's
 * result pointer from the runner; a failing status or a non-NULL result
 * also stays in its slot, and then the batch is "dirty". A clean batch
 * completes its head's word with WEFT__BATCH_CLEAN: its members' slots
 * hold nothing to read, and the owner's sync pops them all at once. The
 * completion of the head's word (release) publishes everything the
 * runners wrote [GR2]. */

/* dirty: the batch runner's flag, set (relaxed: read after the runner's
 * sync of the parts, which orders it) by any runner of its parts. */
struct part {
    struct weft__slot *lo, *hi;
    _Atomic bool *dirty;
};

static void run_range(struct weft__worker *w, struct weft__slot *lo, struct weft__slot *hi,
                      _Atomic bool *dirty);

static int part_task(weft_ctx *ctx, void *arg, void **result)
{
    (void)result;
    struct part *p = arg;
    run_range(ctx->worker, p->lo, p->hi, p->dirty);
    return 0;
}

/* A batch child to call, and its batch's flag. */
struct member {
    struct weft__slot *s;
    _Atomic bool *dirty;
};

/* Call the child's function on w; a kept outcome makes the batch dirty. */
static void member_call(struct weft__worker *w, void *arg)
{
    struct member *m = arg;
    if (weft__slot_call(w, m->s))
        atomic_store_explicit(m->dirty, true, memory_order_relaxed);
}

void weft__run_marked(struct weft__worker *w, void (*call)(struct weft__worker *w, void *arg),
                      void *arg)
{
    struct weft__lazy *l = &w->ctx.lazy;
    struct weft__slot *m = l->top;
    if (weft_unlikely(m >= l->end)) {
        call(w, arg); /* no room for a mark: in the caller's frame */
        return;
    }
    weft__slot_mark(w, m);
    l->top = m + 1;
    call(w, arg);
    weft__slot_unmark(w, m);
    m->ops = NULL;
    weft__lazy_pop(l, m); /* publication may have moved split over the mark */
}

/* Run child s of a batch as a frame of its own: a mark on w's stack (a
 * wait in it must not run the batch's other parts, its siblings). */
static void run_member(struct weft__worker *w, struct weft__slot *s, _Atomic bool *dirty)
{
    if (s->ops != NULL && s->ops != w->pool->batch_ops) {
        /* An exposed child or a failed spawn in the stretch: its sync
         * must see it, so the batch cannot be popped at once. */
        atomic_store_explicit(dirty, true, memory_order_relaxed);
        return;
    }
    struct member m = {.s = s, .dirty = dirty};
    weft__run_marked(w, member_call, &m);
}

/* Parts a range can hand out before its own children are done: each
 * takes half of what is left, so a batch runs out of children first. */
#define PARTS_MAX 64

/* Run the batch's children [lo, hi) on w, oldest first, each as a frame
 * of its own. Before each child, the upper half of what is left after it
 * is spawned as a private part, and taken back once the child returned:
 * a thief's request, whether it comes between children or inside a long
 * one (whose publication crosses the child's mark, oldest first), hands
 * out that half, the biggest work left, and the rest continues here. So a
 * batch spreads over the pool the way a parallel loop's range does, and
 * one nobody asks for costs a spawn and a take-back per child. */
static void run_range(struct weft__worker *w, struct weft__slot *lo, struct weft__slot *hi,
                      _Atomic bool *dirty)
{
    struct weft__lazy *l = &w->ctx.lazy;
    weft_group g;
    weft_group_init(&g, &w->ctx);
    struct part parts[PARTS_MAX];
    unsigned k = 0; /* parts handed out, synced at the end */
    for (; lo < hi; lo++) {
        /* The older half of what is left: the next children in line,
         * which in a recursion's batch are the biggest. */
        struct weft__slot *mid = lo + 1 + (hi - lo) / 2;
        bool offered = false;
        if (hi - lo > 1 && k < PARTS_MAX) {
            parts[k] = (struct part){.lo = lo + 1, .hi = mid, .dirty = dirty};
            offered = weft_spawn(&g, part_task, &parts[k], NULL) == WEFT_OK;
        }
        run_member(w, lo, dirty);
        if (!offered)
            continue;
        struct weft__slot *ps = l->top - 1; /* the part's slot: lo synced its own */
        if (weft__slot_private(l, ps)) {
            g.top_ = l->top = ps; /* nobody took it: the rest stays ours */
        } else {
            k++; /* handed out: that half is a thief's */
            lo = mid - 1;
        }
    }
    (void)weft_sync(&g); /* the parts' children keep their own statuses */
}

static void batch_run(struct weft__task *t, struct weft__worker *w)
{
    struct weft__slot *head = weft__slot_of(t);
    struct weft__slot_rt *rt = weft__slot_rt(head);
    struct weft__slot *end = weft__batch_end(head);
    rt->value = NULL; /* now head's result */
    weft__leap_hint_set(&rt->thief, w); /* [GR3] */
    _Atomic bool dirty = false;
    run_range(w, head, end, &dirty);
    /* relaxed: the parts' runners' stores are ordered before this by the
     * sync in run_range (their completion words, acquire). */
    bool clean = !atomic_load_explicit(&dirty, memory_order_relaxed);
    /* [GR2] publishes every child's status and result. */
    weft__word_complete(&rt->word, WEFT_FINISHED | (clean ? WEFT__BATCH_CLEAN : 0u));
}

const struct weft__task_ops weft__batch_ops = {.run = batch_run};

int(weft_sync_take)(weft_group *g, void **value)
{
    if (g != NULL && stack_worker(g->lazy_) == NULL)
        return WEFT_EPERM;
    return weft__sync_take_inline(g, value);
}

int(weft_sync)(weft_group *g)
{
    if (g != NULL && stack_worker(g->lazy_) == NULL)
        return WEFT_EPERM; /* g untouched: another thread's, or no task's */
    return weft__sync_inline(g);
}

int weft_join(weft_ctx *ctx, weft_fn a, void *arg_a, weft_fn b, void *arg_b)
{
    if (ctx == NULL || a == NULL || b == NULL)
        return WEFT_EINVAL;
    weft_group g;
    weft_group_init(&g, ctx);
    int rc = weft__spawn_slow(g.lazy_, b, arg_b, NULL);
    if (rc != WEFT_OK) {
        (void)weft__sync_slow(g.lazy_, g.base_); /* drops the failure kept */
        return rc;
    }
    void *ignored = NULL;
    int sa = a(ctx, arg_a, &ignored);
    if (sa != 0)
        sa = weft__task_status_of(sa);
    int sb = weft__sync_slow(g.lazy_, g.base_); /* WEFT_ETASK: b's status recorded */
    return sa != 0 ? weft__task_failed(sa) : sb;
}
