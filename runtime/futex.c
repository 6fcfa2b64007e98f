/* Futex wrappers and monotonic deadlines. */

#include "futex.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

int weft__futex_wait(_Atomic uint32_t *word, uint32_t expected, const struct timespec *deadline)
{
    /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, so a
     * retry after EINTR or a spurious wake never recomputes remaining time. */
    long rc = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG,
                      expected, deadline, NULL, FUTEX_BITSET_MATCH_ANY);
    if (rc == 0)
        return 0;
    int err = errno;
    /* The kernel validates the timeout before it looks at the word, so an
     * EINVAL with a deadline means the deadline (word and op are always
     * valid here): a negative tv_sec is long past, and any rejected
     * deadline would fail again at once if retried. */
    if (err == EINVAL && deadline != NULL)
        return -ETIMEDOUT;
    return -err;
}

void weft__futex_wake(_Atomic uint32_t *word, int n)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, n, NULL, NULL, 0);
}

void weft__now(struct timespec *ts)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
}

int64_t weft__now_ns(void)
{
    struct timespec ts;
    weft__now(&ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The largest time_t (a signed type on Linux, 32 or 64 bits). */
#define TIME_T_MAX ((time_t)(sizeof(time_t) == 8 ? INT64_MAX : INT32_MAX))

int weft__deadline_in(struct timespec *deadline, int64_t ns)
{
    if (ns < 0)
        return 0;
    struct timespec now;
    weft__now(&now);
    int64_t sec = ns / 1000000000;
    long nsec = now.tv_nsec + (long)(ns % 1000000000);
    if (nsec >= 1000000000) {
        sec++;
        nsec -= 1000000000;
    }
    /* now.tv_sec >= 0 (CLOCK_MONOTONIC), so the subtraction cannot overflow;
     * a sum past TIME_T_MAX would wrap negative, into the past. */
    if (sec > (int64_t)(TIME_T_MAX - now.tv_sec))
        return 0;
    deadline->tv_sec = now.tv_sec + (time_t)sec;
    deadline->tv_nsec = nsec;
    return 1;
}

int weft__deadline_passed(const struct timespec *deadline)
{
    struct timespec now;
    weft__now(&now);
    return now.tv_sec > deadline->tv_sec ||
           (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}

int weft__deadline_check(const struct timespec *deadline)
{
    if (deadline == NULL || deadline->tv_nsec < 0 || deadline->tv_nsec >= 1000000000)
        return -EINVAL;
    return weft__deadline_passed(deadline);
}
