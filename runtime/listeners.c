/* Closable, prunable listener stacks (listeners.h).
 *
 * Ordering and invariants
 *   [LS1] Push is a release CAS on the head; closing is an acq_rel exchange
 *         with CLOSED that acquires every pushed node. Once closed, pushes
 *         fail and the caller fires its listener itself, so every listener
 *         fires exactly once.
 *   [LS2] The close follows the completion of the future's state word on
 *         the completer's thread; its release makes that completion visible
 *         to whoever reads CLOSED (a failed push, a pruner's put-back).
 *   [LS3] Pruning (the watchers only, never the callbacks, whose order
 *         matters). A pruner owns what it detaches: it swaps a non-empty,
 *         open head for empty with an acquire CAS (which pairs with the
 *         pushers' release CAS, so the nodes' fields are visible), discards
 *         the stale links and pushes the rest back on top of whatever was
 *         pushed meanwhile with a release CAS (the next closer or pruner
 *         acquires the links it rewired; being an RMW, the put-back also
 *         continues the release sequences of the pushes it splices under,
 *         so their nodes stay acquired too: every write to the head after
 *         creation is an RMW). If the stack was closed meanwhile, the closer
 *         fired only what it found, and the pruner fires the rest itself; it
 *         saw CLOSED with an acquire load that pairs with the closer's
 *         exchange [LS2], so those fires come after the completion as every
 *         fire does. Each link is owned by exactly one of: the stack, one
 *         pruner, the closer, so each fires or is discarded exactly once.
 *         Pushers and put-backs only link to the head their CAS validates,
 *         and a detach reads no node before it owns it, so a head that
 *         leaves and comes back (ABA) is harmless. The pruner's caller holds
 *         a reference, so the future is not freed (discard) under it.
 *         The prune is lock-free, but while a pruner holds a detached chain
 *         the waiters in it are woken by its put-back, not by the
 *         completer: a pruner preempted in that short window (a walk over
 *         the links, no allocation) delays their wake-up. Each prune walks
 *         every link on the future, so W waits polling one future cost
 *         O(W^2) per round of polls. */
#include <stddef.h>

#include "listeners.h"

bool weft__lstack_push(_Atomic uintptr_t *head, struct weft__listener *l)
{
    /* acquire (here and on CAS failure): reading CLOSED must order the
     * completion before the caller acts on "done" (fires l itself, reads
     * the outcome); pairs with the close's release [LS2]. */
    uintptr_t h = atomic_load_explicit(head, memory_order_acquire);
    do {
        if (h == WEFT__LSTACK_CLOSED)
            return false;
        l->next = (struct weft__listener *)h;
        /* [LS1] release: publishes *l to the closer (and to a pruner [LS3]). */
    } while (!atomic_compare_exchange_weak_explicit(head, &h, (uintptr_t)l, memory_order_release,
                                                    memory_order_acquire));
    return true;
}

/* Fire (f != NULL) or discard (f == NULL) every listener of a chain. */
static void fire_chain(struct weft__listener *l, weft_future *f)
{
    while (l != NULL) {
        struct weft__listener *n = l->next;
        l->fire(l, f);
        l = n;
    }
}

static struct weft__listener *reverse(struct weft__listener *l)
{
    struct weft__listener *out = NULL;
    while (l) {
        struct weft__listener *n = l->next;
        l->next = out;
        out = l;
        l = n;
    }
    return out;
}

void weft__lstack_close_fire(_Atomic uintptr_t *head, weft_future *f, bool fifo)
{
    /* [LS1][LS2] acq_rel: acquire takes every pushed node; release makes
     * the completion (sequenced before) visible to whoever reads CLOSED. */
    struct weft__listener *l = (struct weft__listener *)atomic_exchange_explicit(
        head, WEFT__LSTACK_CLOSED, memory_order_acq_rel);
    fire_chain(fifo ? reverse(l) : l, f);
}

void weft__lstack_discard(_Atomic uintptr_t *head)
{
    /* relaxed: the last reference is gone; the releasing thread's acquire
     * fence (future.c [FU3]) ordered all pushes and put-backs (a pruner
     * releases its reference after its prune). */
    uintptr_t h = atomic_load_explicit(head, memory_order_relaxed);
    if (h != WEFT__LSTACK_CLOSED)
        fire_chain((struct weft__listener *)h, NULL);
}

/* Put the chain first..*tail back on top of the stack [LS3], or fire it
 * with f if the stack closed since it was detached. */
static void put_back(_Atomic uintptr_t *head, weft_future *f, struct weft__listener *first,
                     struct weft__listener **tail)
{
    /* [LS3] acquire: seeing CLOSED must order the completion before our
     * fires; pairs with the close's exchange. */
    uintptr_t h = atomic_load_explicit(head, memory_order_acquire);
    do {
        if (h == WEFT__LSTACK_CLOSED) {
            *tail = NULL;
            fire_chain(first, f);
            return;
        }
        *tail = (struct weft__listener *)h;
        /* [LS3] release: publishes the rewired links to the closer or the
         * next pruner; acquire on failure as for the load above. */
    } while (!atomic_compare_exchange_weak_explicit(head, &h, (uintptr_t)first,
                                                    memory_order_release, memory_order_acquire));
}

void weft__lstack_prune(_Atomic uintptr_t *head, weft_future *f,
                        bool (*stale)(const struct weft__listener *l))
{
    /* relaxed: the CAS below validates. */
    uintptr_t h = atomic_load_explicit(head, memory_order_relaxed);
    do {
        if (h == 0 || h == WEFT__LSTACK_CLOSED)
            return;
        /* [LS3] acquire: pairs with the pushers' and earlier put-backs'
         * release CAS, so the chain's fields are ours to read. */
    } while (!atomic_compare_exchange_weak_explicit(head, &h, 0, memory_order_acquire,
                                                    memory_order_relaxed));
    struct weft__listener *keep = NULL, **tail = &keep;
    for (struct weft__listener *l = (struct weft__listener *)h, *n; l != NULL; l = n) {
        n = l->next;
        if (stale(l)) {
            l->fire(l, NULL);
        } else {
            *tail = l;
            tail = &l->next;
        }
    }
    if (keep != NULL)
        put_back(head, f, keep, tail);
}
