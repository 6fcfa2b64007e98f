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
    return -errno;
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

int weft__deadline_in(struct timespec *deadline, int64_t ns)
{
    if (ns < 0)
        return 0;
    weft__now(deadline);
    deadline->tv_sec += ns / 1000000000;
    deadline->tv_nsec += ns % 1000000000;
    if (deadline->tv_nsec >= 1000000000) {
        deadline->tv_sec++;
        deadline->tv_nsec -= 1000000000;
    }
    return 1;
}

int weft__deadline_passed(const struct timespec *deadline)
{
    struct timespec now;
    weft__now(&now);
    return now.tv_sec > deadline->tv_sec ||
           (now.tv_sec == deadline->tv_sec && now.tv_nsec >= deadline->tv_nsec);
}
