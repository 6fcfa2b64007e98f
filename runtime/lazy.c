/* The private spawn stack and child records (lazy.h).
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
 * notify. An answer to a request publishes the older half (rounded up):
 * thieves get the oldest, largest work, the owner keeps the newer half to
 * take back without touching the deque, and a thief that runs out asks
 * again. A request stays pending until the owner has a child to publish:
 * a worker asks every other worker on its last look before it parks
 * (steal.c), so the first spawn after it fell asleep publishes and wakes
 * it, and the child a task spawns before a long call of its own runs
 * during that call, not at the spawner's sync. The spawn fast path pays
 * nothing for it: the request is the steal_req it tests anyway. A frame
 * only publishes its own children:
 * those of outer frames stay private until control returns there, so a
 * nested (helping) frame never exposes its ancestors' work below it.
 *
 * Frames of inline children. A child that sync runs inline (group.c) must
 * not see its siblings: a helping wait inside it that ran an older sibling
 * could deadlock (the sibling waits for something the child does after its
 * wait, and the child cannot resume under it). So its slot on the private
 * stack becomes a mark, an odd word holding the deque bottom at its start
 * (WEFT__MARK), and the mark is popped when it returns (it is on top again
 * then: the child synced all it spawned). A helping wait takes private
 * children only above the innermost mark and deque entries only above that
 * mark's bottom (weft__lazy_take_own). Publication walks the whole running
 * task's part of the stack, oldest first, so thieves still get the outer
 * frames' big children; each mark it passes is set to the deque bottom at
 * that point, so the inner frame starts above what was pushed below it. It
 * starts above the highest mark whose frame already has entries on the
 * deque (mark bottom < deque bottom): outer children pushed above those
 * would be within reach of that frame's waits and pops. */
#include <limits.h>
#include <string.h>

#include "alloc.h"
#include "lazy.h"
#include "park.h"
#include "steal.h"

_Static_assert(sizeof(struct weft__child_rt) <= sizeof(((weft_child *)0)->rt_),
               "weft_child.rt_ too small");

static inline weft_child *child_of(struct weft__task *t)
{
    struct weft__child_rt *rt = weft_container_of(t, struct weft__child_rt, task);
    return (weft_child *)(void *)((char *)rt - offsetof(weft_child, rt_));
}

/* A thief (or a helping wait) runs an exposed child. */
static void child_run(struct weft__task *t, struct weft__worker *w)
{
    weft_child *c = child_of(t);
    struct weft__child_rt *rt = weft__child_rt(c);
    weft__leap_hint_set(&rt->thief, w); /* [GR3] */
    rt->status = weft__child_call(w, c);
    /* [GR2] publishes status and result; c may vanish right after. */
    weft__word_complete(&rt->word, WEFT_FINISHED);
}

static const struct weft__task_ops child_ops = {.run = child_run};

struct weft__task *weft__child_expose(struct weft__worker *w, weft_child *c)
{
    struct weft__child_rt *rt = weft__child_rt(c);
    w->lazy.open++; /* until group.c's sync meets it exposed */
    rt->task.ops = &child_ops;
    /* relaxed: published with the record by the deque push [GR1]. */
    atomic_store_explicit(&rt->word, WEFT_PENDING, memory_order_relaxed);
    atomic_store_explicit(&rt->thief, NULL, memory_order_relaxed);
    return &rt->task;
}

struct weft__task *weft__child_push(struct weft__worker *w, weft_child *c)
{
    struct weft__task *t = weft__child_expose(w, c);
    if (weft__deque_push(&w->dq, t, 0) != 0)
        return t;
    weft__notify(w->pool);
    return NULL;
}

/* Index just above the innermost frame mark in the running task's part of
 * the private stack whose deque bottom is below `below`, or base.
 * below = INT64_MAX: the innermost mark, where the waiting frame starts.
 * below = the deque bottom: where publication may start, after the highest
 * mark whose frame already has entries on the deque (a frame whose mark
 * equals the bottom has none yet); pushing an outer frame's children above
 * those entries would put siblings within reach of that frame's helping
 * waits and deque pops. */
static unsigned mark_above(const struct weft__lazy *l, int64_t below)
{
    for (unsigned i = l->n; i > l->base; i--) {
        const weft_child *c = l->items[i - 1];
        if (weft__is_mark(c) && weft__mark_bottom(c) < below)
            return i;
    }
    return l->base;
}

/* Children (not marks) in items[from, n). */
static unsigned children_from(const struct weft__lazy *l, unsigned from)
{
    unsigned k = 0;
    for (unsigned i = from; i < l->n; i++)
        k += !weft__is_mark(l->items[i]);
    return k;
}

/* Publish the running frame's private children, or their older half. */
static void publish(struct weft__worker *w, bool half)
{
    struct weft__lazy *l = &w->lazy;
    unsigned i = mark_above(l, weft__deque_bottom(&w->dq)), keep = i, pushed = 0;
    unsigned children = children_from(l, i);
    /* Nothing to publish: the request stays for the next spawn (a thief
     * that asked and then parked is woken by that spawn's publication). */
    if (children == 0)
        return;
    /* relaxed: a hint; what thieves need is published by the pushes. */
    weft__steal_req_set(w, 0);
    /* Answering a request, the older half (rounded up): thieves get the
     * oldest, largest work, and the owner keeps the newer half private, to
     * take back at its syncs without touching the deque; a thief that runs
     * out asks again. The children past the half stay private, as when the
     * deque is full. */
    unsigned budget = half ? (children + 1) / 2 : UINT_MAX;
    bool full = false;
    for (; i < l->n; i++) {
        weft_child *c = l->items[i];
        if (weft__is_mark(c)) {
            /* The inner frame now starts above the children pushed below. */
            l->items[keep++] = weft__mark_here(l);
            continue;
        }
        if (!full && pushed == budget)
            full = true; /* not exposed: nothing to undo */
        if (!full) {
            full = weft__deque_push(&w->dq, weft__child_expose(w, c), 0) != 0;
            if (!full) {
                pushed++;
                continue;
            }
            l->open--; /* exposed, but not published: private again */
        }
        /* The deque cannot grow: c and the newer children stay private
         * (the injection queue is no place for a child, group.c). */
        l->items[keep++] = c;
    }
    l->n = keep;
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

bool weft__lazy_grow(struct weft__worker *w)
{
    struct weft__lazy *l = &w->lazy;
    if (l->cap > UINT_MAX / 2)
        return false;
    weft_child **items = weft__realloc(l->items, 2 * (size_t)l->cap * sizeof(*items));
    if (items == NULL)
        return false;
    l->items = items;
    l->cap *= 2;
    return true;
}

/* Remove c from the private stack if it is there (normally on top; groups
 * synced out of nesting order find it lower). Only the running task's part
 * of the stack, [base, n), is searched: a group is spawned into and synced
 * by the task that owns it, so its private children are there; deeper
 * entries belong to outer tasks (a deep recursion can hold thousands). */
static __attribute__((noinline)) bool take_slow(struct weft__worker *w, weft_child *c)
{
    struct weft__lazy *l = &w->lazy;
    /* relaxed: a hint; a thief wants work, so publish the rest first. */
    if (weft__steal_requested(l)) {
        if (l->n > l->base && l->items[l->n - 1] == c) {
            l->n--; /* keep c for ourselves, publish the older ones */
            weft__publish_half(w);
            return true;
        }
        weft__publish_half(w);
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

bool weft__lazy_take(struct weft__worker *w, weft_child *c)
{
    struct weft__lazy *l = &w->lazy;
    unsigned n = l->n;
    /* relaxed: a hint (weft__publish). */
    if (weft_likely(weft__private_top(l, n, c))) {
        l->n = n - 1;
        return true;
    }
    return take_slow(w, c);
}

struct weft__task *weft__lazy_take_own(struct weft__worker *w, int64_t *floor)
{
    struct weft__lazy *l = &w->lazy;
    /* Private children above the innermost frame mark belong to the
     * waiting frame. Below the mark lie the children of the frame that
     * runs it inline: its siblings. */
    unsigned start = mark_above(l, INT64_MAX);
    if (l->n > start)
        return weft__child_expose(w, l->items[--l->n]);
    /* Deque entries above the frame's mark were pushed by the waiting
     * frame. Below it lies its ancestors' and siblings' work. */
    *floor = l->bottom;
    if (start > l->base && weft__mark_bottom(l->items[start - 1]) > *floor)
        *floor = weft__mark_bottom(l->items[start - 1]);
    return NULL;
}
