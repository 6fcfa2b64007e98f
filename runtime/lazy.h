/* The spawn stack (lazy publication) and the record of a spawned child: the
 * scheduler's own dependent task. The fork/join API (group.c) and weft.h's
 * inline fast paths put children here; the scheduler publishes them to
 * thieves on request (lazy.c explains the protocol). */
#ifndef WEFT_LAZY_H
#define WEFT_LAZY_H

#include <stdint.h>

#include "steal.h"
#include "word.h"
#include "worker.h"

/* The runtime's part of a spawn slot (weft.h's struct weft__slot, from its
 * ops word on). task.ops is NULL while the child is private or a member of
 * a published batch (split tells which, below), WEFT__SLOT_MARK while sync
 * runs it inline (a frame mark), WEFT__SLOT_FAILED for a failed spawn kept
 * for the sync (fn unset, arg: the error), the pool's batch_ops for a
 * batch's head, else a single exposed child's operations (handed to
 * thieves, or to a helping wait). Free and private slots have status 0 and
 * value NULL: the pops that free a slot clear them. */
struct weft__slot_rt {
    struct weft__task task;  /* deque entry once exposed */
    _Atomic uint32_t word;   /* completion word (word.h) once exposed */
    int status;              /* the child's status once it ran */
    union {
        weft__leap_hint thief; /* who runs it, once exposed [GR3] in group.c */
        int64_t mark;        /* while a frame mark (its owner runs it, nobody
                              * leapfrogs onto it): the deque bottom at its start */
    };
    void *value;             /* once it ran: its result (a batch head's end before) */
};

#define WEFT__SLOT_MARK ((const void *)1)
#define WEFT__SLOT_FAILED ((const void *)2)

static inline struct weft__slot_rt *weft__slot_rt(struct weft__slot *s)
{
    return (struct weft__slot_rt *)(void *)&s->ops;
}

/* A flag in a batch head's completion word: every child of the batch ran
 * with status 0 and a NULL result, and the batch held no other slot (an
 * exposed child, a failed spawn): the members' slots hold nothing to read
 * (group.c, "batches"). Above word.h's WEFT_WORD_WAITERS. */
#define WEFT__BATCH_CLEAN 8u

/* Slot states that depend on split (weft.h): private children lie above
 * it; a slot below it with ops NULL is a member of a published batch, the
 * one headed by l->batches (batches are synced in the order they were
 * published, reversed, so the newest is the only one with members left
 * unsynced above). */
static inline bool weft__slot_private(const struct weft__lazy *l, const struct weft__slot *s)
{
    return s >= l->split && s->ops == NULL;
}

static inline bool weft__slot_member(const struct weft__lazy *l, const struct weft__slot *s)
{
    return s < l->split && s->ops == NULL;
}

/* Pop the stack down to s: split never lies above top, or a child spawned
 * there later would pass for a batch member. */
static inline void weft__lazy_pop(struct weft__lazy *l, struct weft__slot *s)
{
    l->top = s;
    if (l->split > s)
        l->split = s;
}

/* The head of the batch published before head's, or NULL: kept in head's
 * queue link, which a child (never in the injection queue) does not use. */
static inline struct weft__slot *weft__batch_prev(struct weft__slot *head)
{
    return (struct weft__slot *)(void *)weft__slot_rt(head)->task.qnode.next;
}

static inline void weft__batch_link(struct weft__lazy *l, struct weft__slot *head)
{
    weft__slot_rt(head)->task.qnode.next = (struct cds_wfcq_node *)(void *)l->batches;
    l->batches = head;
}

/* The slot past a batch's last, kept in its head's value until the batch
 * starts running (its runner reads it first). */
static inline struct weft__slot *weft__batch_end(struct weft__slot *head)
{
    return weft__slot_rt(head)->value;
}

/* The slot whose runtime part holds task header t. */
static inline struct weft__slot *weft__slot_of(struct weft__task *t)
{
    struct weft__slot_rt *rt = weft_container_of(t, struct weft__slot_rt, task);
    return (struct weft__slot *)(void *)((char *)rt - offsetof(struct weft__slot, ops));
}


static inline bool weft__slot_is_mark(const struct weft__slot *s)
{
    return s->ops == WEFT__SLOT_MARK;
}

/* Make s a frame mark starting at the deque's current bottom, the
 * innermost one; marks chain through their queue links, which a mark,
 * never queued, does not use. */
static inline void weft__slot_mark(struct weft__worker *w, struct weft__slot *s)
{
    struct weft__slot_rt *rt = weft__slot_rt(s);
    s->ops = WEFT__SLOT_MARK;
    rt->mark = weft__deque_bottom(&w->dq);
    rt->task.qnode.next = (struct cds_wfcq_node *)(void *)w->ctx.lazy.mark;
    w->ctx.lazy.mark = s;
}

/* The mark below mark s, or NULL. */
static inline struct weft__slot *weft__mark_prev(struct weft__slot *s)
{
    return (struct weft__slot *)(void *)weft__slot_rt(s)->task.qnode.next;
}

/* Pop the innermost mark, s, once its child returned (s stays the
 * child's slot, holding its status and result). */
static inline void weft__slot_unmark(struct weft__worker *w, struct weft__slot *s)
{
    w->ctx.lazy.mark = weft__mark_prev(s);
}

/* Run s's function on w, in the context of w's children: its result goes
 * to the spawn's result pointer, and a failing status or a non-NULL result
 * is also kept in the slot, whose status and value hold 0 and NULL before
 * (the pops that free a slot clear them). So a thief writes the owner's
 * slot only when there is something to read there, and a child that
 * returns neither costs the owner's line no transfer back. Returns true
 * when it kept something (a batch with such a child is not clean). The
 * writes are published by the completion that follows, or are the
 * owner's own. */
static inline bool weft__slot_call(struct weft__worker *w, struct weft__slot *s)
{
    void *value = NULL;
    weft_future *outer = weft__ctx_swap(w, NULL);
    int r = s->fn(&w->ctx, s->arg, &value);
    weft__ctx_swap(w, outer);
    if (s->out != NULL)
        *s->out = value;
    if (weft_likely(r == 0 && value == NULL))
        return false;
    struct weft__slot_rt *rt = weft__slot_rt(s);
    if (r != 0)
        rt->status = weft__task_status_of(r);
    rt->value = value;
    return true;
}

/* The outcome weft__slot_call starts from. */
static inline void weft__slot_clear(struct weft__slot *s)
{
    weft__slot_rt(s)->status = 0;
    weft__slot_rt(s)->value = NULL;
}

/* Owner: put the spawn bound back (a thief may have lowered it) and say
 * whether a thief asked for work since the last publication. */
bool weft__lazy_asked(struct weft__worker *w);
/* Make a private child stealable: fill in its task header and completion
 * word (spawn leaves them unset while the child is private) and return the
 * header to push. Owner (w) only, before the push publishes it. */
struct weft__task *weft__child_expose(struct weft__worker *w, struct weft__slot *s);
/* Expose s and push it on w's deque, waking an idle worker. Returns NULL;
 * or, when the deque cannot grow, s's task, for the caller to run. */
struct weft__task *weft__child_push(struct weft__worker *w, struct weft__slot *s);
/* Hand the running frame's private children to the deque (oldest first)
 * so thieves can take them, clear steal_req, and wake a sleeper if needed.
 * A run of adjacent private children goes as one batch: one deque entry
 * (its head, run by the pool's batch_ops), which its thief splits further
 * when asked. Owner only. */
void weft__publish(struct weft__worker *w);
/* The same for the older half of them (rounded up): the answer to a
 * thief's request or to an idle worker; the owner keeps the newer half
 * private. Owner only. */
void weft__publish_half(struct weft__worker *w);
/* For a helping wait of the running frame (a sync): expose its newest
 * private child and return it, or return NULL and set *floor to the deque
 * index above which the frame's own entries lie. */
struct weft__task *weft__lazy_take_own(struct weft__worker *w, int64_t *floor);

#endif
