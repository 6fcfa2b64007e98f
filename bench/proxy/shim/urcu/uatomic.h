/* Shadows liburcu's <urcu/uatomic.h> in the instrumented build only: the
 * x86 version is inline assembly, which -fsanitize=thread cannot see, so
 * the wfcqueue's exchange on the injection queue's tail (one per external
 * submit) and its dequeue compare-exchange would go uncounted. liburcu's
 * generic version uses gcc's __sync builtins, which gcc instruments as
 * atomic operations; uatomic_xchg is defined as one exchange (the generic
 * one is a compare-exchange loop). Same semantics, all sequentially
 * consistent. */
#ifndef _URCU_UATOMIC_H
#define _URCU_UATOMIC_H

#include <urcu/arch.h>
#include <urcu/compiler.h>
#include <urcu/system.h>

#define UATOMIC_HAS_ATOMIC_BYTE
#define UATOMIC_HAS_ATOMIC_SHORT

#define uatomic_xchg(addr, v) \
    ((__typeof__(*(addr)))__atomic_exchange_n((addr), (__typeof__(*(addr)))(v), __ATOMIC_SEQ_CST))

#include <urcu/uatomic/generic.h>

#endif
