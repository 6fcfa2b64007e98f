/* linecount: counts cache-line transfers and atomic operations of code
 * compiled with gcc -fsanitize=thread, by defining the __tsan_* entry points
 * itself instead of linking libtsan (linecount.c explains the model).
 *
 * The driver (proxy.c) declares these weak, so the same driver object also
 * links without linecount for the callgrind build. */
#ifndef LINECOUNT_H
#define LINECOUNT_H

#include <stdio.h>

/* Zero the counters and the per-site table, then count from now on. The
 * line table itself is kept up to date all the time, so the first access
 * counted already knows who touched each line before. */
void linecount_begin(void);
/* Stop counting (tracking goes on). */
void linecount_end(void);
/* Print the totals of the counted phase and every site that counted
 * something, most shared-line writes first:
 *   linecount shared_writes=.. rmws=.. shared_reads=.. seq_cst_fences=.. yields=..
 *             futex_wakes=.. futex_waits=.. writes=.. reads=.. threads=.. sites_dropped=..
 *   sitecols shared_writes rmws shared_reads seq_cst_fences yields futex_wakes futex_waits
 *   site <pc> <caller pc> <caller's caller pc> <one count per sitecols name>
 * pc is the access, fence or call; the caller pcs are the call sites of the
 * instrumented function holding it and of that one's caller. All are
 * return addresses in the executable (subtract 1 for addr2line), 0 where
 * unknown. */
void linecount_report(FILE *out);

/* Stand-ins that the proxy build substitutes in the runtime's sources with
 * -Dmemset=linecount_memset and so on: the string functions, which gcc's
 * -fsanitize=thread leaves uninstrumented when it expands them inline, and
 * the calls counted as such (sched_yield; futex wake and wait through
 * syscall()). Each does the real thing. */
#include <stddef.h>
void *linecount_memset(void *d, int c, size_t n);
void *linecount_memcpy(void *d, const void *s, size_t n);
void *linecount_memmove(void *d, const void *s, size_t n);
int linecount_sched_yield(void);
long linecount_syscall(long nr, ...);

#endif
