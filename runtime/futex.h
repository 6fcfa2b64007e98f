/* Raw futex calls (classic SYS_futex only; futex2 is avoided on purpose:
 * missing from Debian 12 headers and blocked by some seccomp profiles). */
#ifndef WEFT_FUTEX_H
#define WEFT_FUTEX_H

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

/* Sleep while *word == expected, until woken or the absolute CLOCK_MONOTONIC
 * deadline passes (NULL = no deadline). Returns 0 (woken or spurious),
 * -EAGAIN (value changed), -EINTR, or -ETIMEDOUT. Callers always re-check
 * their condition: a 0 return does not mean the condition holds. A deadline
 * the kernel rejects (EINVAL: a negative tv_sec, long past, or a tv_nsec out
 * of range) gives -ETIMEDOUT, never a return that a caller would retry: a
 * retry would fail the same way at once, and spin. */
int weft__futex_wait(_Atomic uint32_t *word, uint32_t expected, const struct timespec *deadline);

/* Wake up to n threads sleeping on word. */
void weft__futex_wake(_Atomic uint32_t *word, int n);

/* Current CLOCK_MONOTONIC time, and helpers for deadlines. */
void weft__now(struct timespec *ts);
/* deadline = now + ns and returns 1; returns 0 (no deadline: wait forever)
 * for ns < 0, and for an ns so large that now + ns does not fit a time_t
 * (such a deadline is never reached; it must not wrap into the past). */
int weft__deadline_in(struct timespec *deadline, int64_t ns);
/* True if the absolute deadline has passed. */
int weft__deadline_passed(const struct timespec *deadline);
/* Validate an absolute deadline given to a public call (weft.h's deadline
 * rules). Returns -EINVAL for NULL or a tv_nsec outside [0, 1e9); 1 if it is
 * at or before now (negative tv_sec included): the wait is a poll, which
 * must not sleep; 0 if it is later than now. */
int weft__deadline_check(const struct timespec *deadline);
int64_t weft__now_ns(void);

#endif
