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
 * their condition: a 0 return does not mean the condition holds. */
int weft__futex_wait(_Atomic uint32_t *word, uint32_t expected, const struct timespec *deadline);

/* Wake up to n threads sleeping on word. */
void weft__futex_wake(_Atomic uint32_t *word, int n);

/* Current CLOCK_MONOTONIC time, and helpers for deadlines. */
void weft__now(struct timespec *ts);
/* deadline = now + ns; ns < 0 gives a deadline "never" (returns 0: no deadline). */
int weft__deadline_in(struct timespec *deadline, int64_t ns);
/* True if the absolute deadline has passed. */
int weft__deadline_passed(const struct timespec *deadline);
int64_t weft__now_ns(void);

#endif
