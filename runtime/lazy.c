/* The spawn stack and child records (lazy.h).
 *
 * Slots in place. A worker's spawn stack is one array of 64-byte slots
 * (weft.h's struct weft__slot), reserved once as address space and touched
 * as it is used; it never moves, so a slot handed to thieves stays where it
 * is until its sync pops it. A spawn writes the child's function, argument
 * and result pointer into the top slot and moves the top; a sync pops the
 * top slot. A slot's ops word tells its state: NULL while the child is
 * private (only the owner knows of it), WEFT__SLOT_MARK while sync runs it
 * inline (a frame mark, below), WEFT__SLOT_FAILED for a failed spawn kept
 * for the sync (group.c), else the child's task operations once it was
 * exposed (pushed on the deque for thieves, or given to a helping wait).
 * Only the owner writes ops; an exposed slot's completion word, status and
 * result are the thief's until its word is complete.
 *
 * Batches and the split point. Publication moves the split point up over
 * the children it hands out, in one batch per stretch between frame marks:
 * one deque entry and one completion word for the whole stretch, and no
 * write to the other slots (a slot below split with ops NULL is a member of
 * the newest batch, lazy.h). A thief takes a batch with one steal and
 * splits it further when asked (group.c, "batches"). Pops below split
 * lower it. A frame above outer frames' private children cannot move split
 * over them, so it publishes its children one entry each.
 *
 * Lazy publication (after Lace's split deque). Spawn and take-back of a
 * child that nobody asked for are inline functions in weft.h: three stores
 * and a moved top, then a compare of the slot's ops word; the child's task
 * header and completion word are not even written. A thief that finds a
 * deque empty sets the owner's steal_req and then lowers its spawn bound to
 * NULL ([LZ1]); the owner's next spawn fails the bound check, and the slow
 * path (or a sync or help step before it) publishes the running frame's
 * private children onto its Chase-Lev deque, oldest (largest) first, and
 * wakes a sleeper with the fenced notify. An answer to a request publishes the older half (rounded up):
 * thieves get the oldest, largest work, the owner keeps the newer half to
 * take back without touching the deque, and a thief that runs out asks
 * again. A request stays pending until the owner has a child to publish:
 * a worker asks every other worker on its last look before it parks
 * (steal.c), so the first spawn after it fell asleep publishes and wakes
 * it, and the child a task spawns before a long call of its own runs
 * during that call, not at the spawner's sync. The spawn fast path pays
 * nothing for it: the request is the bound it checks anyway. A frame
 * only publishes its own children: those of outer frames stay private
 * until control returns there, so a nested (helping) frame never exposes
 * its ancestors' work below it.
 *
 * Frames of inline children. A child that sync runs inline (group.c) must
 * not see its siblings: a helping wait inside it that ran an older sibling
 * could deadlock (the sibling waits for something the child does after its
 * wait, and the child cannot resume under it). So its slot stays on the
 * stack as a mark holding the deque bottom at its start, and is popped
 * when it returns (it is on top again then: the child synced all it
 * spawned). A helping wait takes private children only above the
 * innermost mark and deque entries only above that mark's bottom
 * (weft__lazy_take_own). Publication walks the whole running task's part
 * of the stack, oldest first, so thieves still get the outer frames' big
 * children; each mark it passes is set to the deque bottom at that point,
 * so the inner frame starts above what was pushed below it. It starts
 * above the highest mark whose frame already has entries on the deque
 * (mark bottom < deque bottom): outer children pushed above those would be
 * within reach of that frame's waits and pops. */
#include <limits.h>
#include <stddef.h>

#include "lazy.h"
#include "park.h"
#include "steal.h"

_Static_assert(sizeof(struct weft__slot) == 64, "a spawn slot is 64 bytes");
_Static_assert(sizeof(struct weft__slot_rt) ==
                   sizeof(struct weft__slot) - offsetof(struct weft__slot, ops),
               "the runtime part fills the slot from its ops word on");

struct weft__lazy weft__no_lazy;

/* A thief (or a helping wait) runs an exposed child. */
static void child_run(struct weft__task *t, struct weft__worker *w)
{
    struct weft__slot *s = weft__slot_of(t);
    struct weft__slot_rt *rt = weft__slot_rt(s);
    weft__leap_hint_set(&rt->thief, w); /* [GR3] */
    weft__slot_call(w, s);
    /* [GR2] publishes status and result; the slot may be reused right
     * after (its sync pops it). */
    weft__word_complete(&rt->word, WEFT_FINISHED);
}

static const struct weft__task_ops child_ops = {.run = child_run};

bool weft__lazy_asked(struct weft__worker *w)
{
    struct weft__lazy *l = &w->ctx.lazy;
    /* relaxed: the thief's NULL is only a hint to come here [LZ1]. */
    if (__atomic_load_n(&l->bound, __ATOMIC_RELAXED) != l->end) {
        __atomic_store_n(&l->bound, l->end, __ATOMIC_RELAXED);
        /* [LZ1] seq_cst fence: pairs with the asking thief's (steal.c),
         * between its store of steal_req and its store of NULL: with our
         * store of bound before and our load of steal_req after, either we
         * see the request, or the thief's NULL lands after our store and
         * the next spawn comes back here (tests/model/lazy.pml). */
        weft__fence_seq_cst(w->pool);
    }
    return weft__steal_requested(l);
}

struct weft__task *weft__child_expose(struct weft__worker *w, struct weft__slot *s)
{
    struct weft__slot_rt *rt = weft__slot_rt(s);
    rt->task.ops = &child_ops;
    /* relaxed: published with the slot by the deque push [GR1]. */
    atomic_store_explicit(&rt->word, WEFT_PENDING, memory_order_relaxed);
    atomic_store_explicit(&rt->thief, NULL, memory_order_relaxed);
    return &rt->task;
}

struct weft__task *weft__child_push(struct weft__worker *w, struct weft__slot *s)
{
    struct weft__task *t = weft__child_expose(w, s);
    if (weft__deque_push(&w->dq, t, 0) != 0)
        return t;
    weft__notify(w->pool);
    return NULL;
}

/* The slot just above the innermost frame mark in the running task's part
 * of the stack whose deque bottom is below `below`, or base.
 * below = INT64_MAX: the innermost mark, where the waiting frame starts.
 * below = the deque bottom: where publication may start, after the highest
 * mark whose frame already has entries on the deque (a frame whose mark
 * equals the bottom has none yet); pushing an outer frame's children above
 * those entries would put siblings within reach of that frame's helping
 * waits and deque pops. */
static struct weft__slot *mark_above(struct weft__lazy *l, int64_t below)
{
    for (struct weft__slot *m = l->mark; m != NULL && m >= l->base; m = weft__mark_prev(m))
        if (weft__slot_rt(m)->mark < below)
            return m + 1;
    return l->base;
}

/* The lowest frame mark at or above `from`, or NULL (the marks chain
 * from the innermost down; there are as many as inline runs are nested). */
static struct weft__slot *mark_from(struct weft__lazy *l, struct weft__slot *from)
{
    struct weft__slot *low = NULL;
    for (struct weft__slot *m = l->mark; m != NULL && m >= from; m = weft__mark_prev(m))
        low = m;
    return low;
}

/* Expose the slots [lo, hi) as one batch (its private ones: it may hold an
 * exposed child or a failed spawn, which its runner skips) and push it.
 * The head is its first private slot; nothing is written to the other
 * slots: every private slot below split counts as a member of the batch
 * on top of the owner's chain (lazy.h). Returns 1; 0 when [lo, hi) holds
 * no private slot; -1 when the deque cannot grow. Owner only. */
static int batch_push(struct weft__worker *w, struct weft__slot *lo, struct weft__slot *hi)
{
    while (lo < hi && lo->ops != NULL)
        lo++;
    if (lo == hi)
        return 0;
    struct weft__task *t = weft__child_expose(w, lo);
    t->ops = w->pool->batch_ops;
    struct weft__slot_rt *rt = weft__slot_rt(lo);
    rt->value = hi; /* weft__batch_end; its runner clears it */
    if (weft__deque_push(&w->dq, t, 0) != 0) {
        lo->ops = NULL;
        rt->value = NULL;
        return -1;
    }
    weft__batch_link(&w->ctx.lazy, lo);
    return 1;
}

/* Publish singles: each private child in [from, top), oldest first, up to
 * budget, as a child task of its own. For a frame above outer frames'
 * private children (start > split), where split cannot move. */
static unsigned publish_singles(struct weft__worker *w, struct weft__slot *from, unsigned budget)
{
    struct weft__lazy *l = &w->ctx.lazy;
    unsigned pushed = 0;
    for (struct weft__slot *s = from; s < l->top && pushed < budget; s++) {
        if (weft__slot_is_mark(s)) {
            weft__slot_rt(s)->mark = weft__deque_bottom(&w->dq);
            continue;
        }
        if (s->ops != NULL)
            continue;
        if (weft__deque_push(&w->dq, weft__child_expose(w, s), 0) != 0) {
            s->ops = NULL; /* the deque cannot grow: it stays private */
            break;
        }
        pushed++;
    }
    /* Marks above the last push start above it too. */
    for (struct weft__slot *m = l->mark; m != NULL && m >= from; m = weft__mark_prev(m))
        weft__slot_rt(m)->mark = weft__deque_bottom(&w->dq);
    return pushed;
}

/* Publish the running frame's private children, or their older half: in
 * batches from split up, one per stretch between frame marks, moving split
 * past them. */
static void publish(struct weft__worker *w, bool half)
{
    struct weft__lazy *l = &w->ctx.lazy;
    struct weft__slot *start = mark_above(l, weft__deque_bottom(&w->dq));
    struct weft__slot *s = start > l->split ? start : l->split;
    /* Slots, not all of them private children: a mark, an exposed child
     * or a failed spawn among them counts too. */
    unsigned children = (unsigned)(l->top - s);
    /* Nothing to publish: the request stays for the next spawn (a thief
     * that asked and then parked is woken by that spawn's publication),
     * which the lowered bound sends to the slow path (relaxed: only the
     * owner restores it, [LZ1]). */
    if (children == 0) {
        if (weft__steal_requested(l))
            __atomic_store_n(&l->bound, NULL, __ATOMIC_RELAXED);
        return;
    }
    /* relaxed: a hint; what thieves need is published by the pushes. */
    weft__steal_req_set(w, 0);
    /* Answering a request, the older half (rounded up): thieves get the
     * oldest, largest work, and the owner keeps the newer half private, to
     * take back at its syncs without touching the deque; a thief that runs
     * out asks again. */
    unsigned budget = half ? (children + 1) / 2 : children, pushed = 0;
    if (start > l->split) {
        /* Outer frames' private children lie below start: split stays. */
        pushed = publish_singles(w, start, budget);
    } else {
        /* No child below split is private, and marks between start and
         * split keep their bottoms: nothing was pushed since their frames
         * started (see mark_above). */
        while (s < l->top && pushed < budget) {
            struct weft__slot *m = mark_from(l, s);
            struct weft__slot *hi = m != NULL ? m : l->top;
            if ((unsigned)(hi - s) > budget - pushed)
                hi = s + (budget - pushed);
            if (hi > s) {
                if (batch_push(w, s, hi) < 0)
                    break; /* what is left stays private, as split says */
                pushed += (unsigned)(hi - s);
                s = hi;
                l->split = s;
            }
            if (m != NULL && s == m) {
                /* The inner frame now starts above what was pushed below. */
                weft__slot_rt(m)->mark = weft__deque_bottom(&w->dq);
                s = m + 1;
                l->split = s;
            }
        }
    }
    if (pushed == 0)
        return;
    /* Publication answers an idle worker that may be parking right now: use
     * the fenced notify ([PK1] in park.c). */
    weft__notify(w->pool);
}

void weft__publish(struct weft__worker *w)
{
    publish(w, false);
}

void weft__publish_half(struct weft__worker *w)
{
    publish(w, true);
}

struct weft__task *weft__lazy_take_own(struct weft__worker *w, int64_t *floor)
{
    struct weft__lazy *l = &w->ctx.lazy;
    /* Private children above the innermost frame mark belong to the
     * waiting frame. Below the mark lie the children of the frame that
     * runs it inline: its siblings. The child stays in its slot, exposed,
     * until its sync finds it done. */
    struct weft__slot *start = mark_above(l, INT64_MAX);
    struct weft__slot *low = start > l->split ? start : l->split;
    for (struct weft__slot *s = l->top; s > low; s--)
        if ((s - 1)->ops == NULL)
            return weft__child_expose(w, s - 1);
    /* Deque entries above the frame's mark were pushed by the waiting
     * frame. Below it lies its ancestors' and siblings' work. */
    *floor = l->bottom;
    if (start > l->base && weft__slot_rt(start - 1)->mark > *floor)
        *floor = weft__slot_rt(start - 1)->mark;
    return NULL;
}
