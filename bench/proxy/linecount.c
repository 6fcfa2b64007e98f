/* linecount: the __tsan_* entry points that gcc -fsanitize=thread calls,
 * defined so that they perform each access or atomic operation and count
 * cache-line transfers between threads, without ThreadSanitizer itself.
 *
 * Model. Memory is cut into 64-byte lines (the coherence unit; weft pads
 * to 128 bytes against the adjacent-line prefetcher, which this does not
 * model). For every line touched by instrumented code a table keeps the
 * thread that wrote it last and the set of threads that read it since that
 * write. Then:
 *   - a write (plain store, atomic store, or any atomic read-modify-write,
 *     failed compare-exchanges included: x86 takes the line exclusive for
 *     them too) is a shared-line write when the line was last written by
 *     another thread or read by another thread since its last write: the
 *     writer's core must fetch or invalidate other copies;
 *   - a read is a shared-line read when the line was last written by
 *     another thread and this thread has not read it since: a miss served
 *     by another core's cache.
 * Evictions, prefetching and the OS moving threads are not modelled: the
 * figures count the transfers the program's sharing forces, on any number
 * of cores, as if each thread had its own core and an infinite cache.
 * Also counted: atomic read-modify-writes, seq_cst fences, and (through
 * the stand-ins of linecount.h) sched_yield calls and futex wake and wait
 * system calls. Every count is also kept per site: the pc of the access
 * (or fence, or call) and the two innermost call sites on a shadow stack
 * kept from __tsan_func_entry/_exit.
 *
 * Only code compiled with -fsanitize=thread calls in here (the weft
 * runtime, in the proxy build); the driver and the task bodies are plain
 * code and invisible. The table is updated all the time; the counters only
 * between linecount_begin and linecount_end.
 *
 * Thread safety: the table is split into stripes, each with a mutex (a
 * spin lock would burn the CPU its holder needs with 64 threads on 2);
 * an atomic operation runs under its line's stripe lock, so the table's
 * idea of the last writer follows the line's real modification order.
 * Counters and the per-site table use relaxed atomics. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "linecount.h"

#define LINE_SHIFT 6
#define BUCKET_BITS 22
#define BUCKETS (1u << BUCKET_BITS)
#define STRIPES 4096u /* divides BUCKETS: a bucket's lines share a stripe */
#define READER_WORDS 4 /* threads 1..256 exact; higher ids fold onto them */
#define NODES_PER_CHUNK 4096
#define SHADOW_MAX 1024
#define SITE_BITS 16
#define SITES (1u << SITE_BITS)
#define PC_BITS 21 /* each of the 3 pcs in a site key: offset from the image start */

struct line {
    uintptr_t key; /* line number */
    struct line *next;
    uint32_t writer; /* thread id of the last writer, 0: none seen */
    uint64_t readers[READER_WORDS];
};

struct stripe {
    pthread_mutex_t lock;
    struct line *free_nodes; /* bump area of the current chunk */
    unsigned free_left;
    char pad[64];
};

static struct line *buckets[BUCKETS];
static struct stripe stripes[STRIPES];
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

enum kind { K_READ, K_WRITE, K_RMW };

/* What is counted, in total and per site. */
enum counter {
    C_SHARED_W, /* shared-line writes */
    C_RMW,      /* atomic read-modify-writes */
    C_SHARED_R, /* shared-line reads */
    C_FENCE,    /* seq_cst fences */
    C_YIELD,    /* sched_yield calls */
    C_WAKE,     /* futex wake system calls */
    C_WAIT,     /* futex wait system calls */
    C_N
};
static const char *const counter_names[C_N] = {
    "shared_writes", "rmws", "shared_reads", "seq_cst_fences", "yields", "futex_wakes",
    "futex_waits",
};

static atomic_bool counting;
static _Atomic uint64_t totals[C_N], c_reads, c_writes;
static _Atomic uint32_t next_tid;

/* Per-site counters, keyed by three packed pcs (the access or call,
 * the call site of the instrumented function it is in, and that
 * function's caller's call site). Open addressing; a full table drops
 * further new sites. */
struct site {
    _Atomic uint64_t key; /* packed pcs + 1; 0: free */
    _Atomic uint64_t count[C_N];
};
static struct site sites[SITES];
static _Atomic uint64_t sites_dropped;

extern char __executable_start[];

static __thread uint32_t self_tid;
static __thread uintptr_t shadow[SHADOW_MAX]; /* call sites of the instrumented frames */
static __thread unsigned shadow_depth;

static void init(void)
{
    for (unsigned i = 0; i < STRIPES; i++)
        pthread_mutex_init(&stripes[i].lock, NULL);
}

static inline uint32_t tid(void)
{
    uint32_t t = self_tid;
    if (__builtin_expect(t == 0, 0))
        t = self_tid = atomic_fetch_add_explicit(&next_tid, 1, memory_order_relaxed) + 1;
    return t;
}

static inline uint32_t bucket_of(uintptr_t line)
{
    return (uint32_t)((line * 0x9E3779B97F4A7C15ull) >> (64 - BUCKET_BITS));
}

static inline struct stripe *stripe_of(uintptr_t addr)
{
    return &stripes[bucket_of(addr >> LINE_SHIFT) % STRIPES];
}

/* Caller holds the stripe lock of line. */
static struct line *find(struct stripe *s, uintptr_t line)
{
    struct line **head = &buckets[bucket_of(line)];
    for (struct line *e = *head; e != NULL; e = e->next)
        if (e->key == line)
            return e;
    if (s->free_left == 0) {
        s->free_nodes = calloc(NODES_PER_CHUNK, sizeof(struct line));
        if (s->free_nodes == NULL) {
            fputs("linecount: out of memory\n", stderr);
            abort();
        }
        s->free_left = NODES_PER_CHUNK;
    }
    struct line *e = s->free_nodes++;
    s->free_left--;
    e->key = line;
    e->next = *head;
    *head = e;
    return e;
}

static inline void reader_set(struct line *e, uint32_t t)
{
    unsigned b = (t - 1) % (64 * READER_WORDS);
    e->readers[b / 64] |= 1ull << (b % 64);
}

static inline bool reader_has(const struct line *e, uint32_t t)
{
    unsigned b = (t - 1) % (64 * READER_WORDS);
    return (e->readers[b / 64] >> (b % 64)) & 1;
}

static inline bool other_readers(const struct line *e, uint32_t t)
{
    unsigned b = (t - 1) % (64 * READER_WORDS);
    for (unsigned i = 0; i < READER_WORDS; i++) {
        uint64_t w = e->readers[i];
        if (i == b / 64)
            w &= ~(1ull << (b % 64));
        if (w)
            return true;
    }
    return false;
}

/* Update line e for an access of thread t; true if it is a transfer. */
static bool touch(struct line *e, uint32_t t, bool write)
{
    if (write) {
        bool shared = (e->writer != 0 && e->writer != t) || other_readers(e, t);
        e->writer = t;
        memset(e->readers, 0, sizeof(e->readers));
        return shared;
    }
    if (e->writer == 0 || e->writer == t || reader_has(e, t)) {
        reader_set(e, t);
        return false;
    }
    reader_set(e, t);
    return true;
}

static inline uint64_t pc_field(uintptr_t pc)
{
    uintptr_t off = pc - (uintptr_t)__executable_start;
    return pc != 0 && off < (1u << PC_BITS) ? off : 0;
}

static struct site *site_of(uintptr_t pc)
{
    unsigned d = shadow_depth;
    uintptr_t c1 = d >= 1 && d - 1 < SHADOW_MAX ? shadow[d - 1] : 0;
    uintptr_t c2 = d >= 2 && d - 2 < SHADOW_MAX ? shadow[d - 2] : 0;
    uint64_t key = (pc_field(pc) | pc_field(c1) << PC_BITS | pc_field(c2) << (2 * PC_BITS)) + 1;
    uint64_t h = (key * 0x9E3779B97F4A7C15ull) >> (64 - SITE_BITS);
    for (unsigned i = 0; i < SITES; i++) {
        struct site *s = &sites[(h + i) % SITES];
        uint64_t k = atomic_load_explicit(&s->key, memory_order_relaxed);
        if (k == 0) {
            uint64_t zero = 0;
            if (atomic_compare_exchange_strong_explicit(&s->key, &zero, key,
                                                        memory_order_relaxed,
                                                        memory_order_relaxed))
                k = key;
            else
                k = zero;
        }
        if (k == key)
            return s;
    }
    atomic_fetch_add_explicit(&sites_dropped, 1, memory_order_relaxed);
    return NULL;
}

/* Count one event c at pc, if counting. */
static void count(enum counter c, uintptr_t pc)
{
    if (!atomic_load_explicit(&counting, memory_order_relaxed))
        return;
    atomic_fetch_add_explicit(&totals[c], 1, memory_order_relaxed);
    struct site *s = site_of(pc);
    if (s != NULL)
        atomic_fetch_add_explicit(&s->count[c], 1, memory_order_relaxed);
}

/* Account one access of one line, the stripe lock held. */
static void account(struct stripe *s, uintptr_t addr, enum kind k, uintptr_t pc)
{
    bool write = k != K_READ;
    bool shared = touch(find(s, addr >> LINE_SHIFT), tid(), write);
    if (!atomic_load_explicit(&counting, memory_order_relaxed))
        return;
    atomic_fetch_add_explicit(write ? &c_writes : &c_reads, 1, memory_order_relaxed);
    if (shared)
        count(write ? C_SHARED_W : C_SHARED_R, pc);
    if (k == K_RMW)
        count(C_RMW, pc);
}

/* A plain access of size bytes (every line it covers). */
static void note(uintptr_t addr, size_t size, enum kind k, uintptr_t pc)
{
    if (size == 0)
        return;
    pthread_once(&init_once, init);
    uintptr_t first = addr >> LINE_SHIFT, last = (addr + size - 1) >> LINE_SHIFT;
    for (uintptr_t l = first; l <= last; l++) {
        uintptr_t a = l << LINE_SHIFT;
        struct stripe *s = stripe_of(a);
        pthread_mutex_lock(&s->lock);
        account(s, a, k, pc);
        pthread_mutex_unlock(&s->lock);
    }
}

/* Atomic operations: the real operation runs between these two. */
static inline struct stripe *atomic_begin(const volatile void *addr)
{
    pthread_once(&init_once, init);
    struct stripe *s = stripe_of((uintptr_t)addr);
    pthread_mutex_lock(&s->lock);
    return s;
}

static inline void atomic_end(struct stripe *s, const volatile void *addr, enum kind k,
                              uintptr_t pc)
{
    account(s, (uintptr_t)addr, k, pc);
    pthread_mutex_unlock(&s->lock);
}

#define RET ((uintptr_t)__builtin_return_address(0))

/* ---- the phase API (linecount.h) ---- */

void linecount_begin(void)
{
    for (unsigned c = 0; c < C_N; c++)
        atomic_store(&totals[c], 0);
    atomic_store(&c_reads, 0);
    atomic_store(&c_writes, 0);
    atomic_store(&sites_dropped, 0);
    for (unsigned i = 0; i < SITES; i++) {
        atomic_store(&sites[i].key, 0);
        for (unsigned c = 0; c < C_N; c++)
            atomic_store(&sites[i].count[c], 0);
    }
    atomic_store(&counting, true);
}

void linecount_end(void)
{
    atomic_store(&counting, false);
}

static uintptr_t unpack(uint64_t key, unsigned i)
{
    uint64_t off = (key >> (i * PC_BITS)) & ((1u << PC_BITS) - 1);
    return off ? (uintptr_t)__executable_start + off : 0;
}

static int by_count(const void *a, const void *b)
{
    const struct site *x = *(const struct site *const *)a, *y = *(const struct site *const *)b;
    for (unsigned c = 0; c < C_N; c++) {
        uint64_t u = atomic_load(&x->count[c]), v = atomic_load(&y->count[c]);
        if (u != v)
            return u < v ? 1 : -1;
    }
    return 0;
}

void linecount_report(FILE *out)
{
    fputs("linecount", out);
    for (unsigned c = 0; c < C_N; c++)
        fprintf(out, " %s=%llu", counter_names[c], (unsigned long long)atomic_load(&totals[c]));
    fprintf(out, " writes=%llu reads=%llu threads=%u sites_dropped=%llu\n",
            (unsigned long long)atomic_load(&c_writes), (unsigned long long)atomic_load(&c_reads),
            atomic_load(&next_tid), (unsigned long long)atomic_load(&sites_dropped));
    fputs("sitecols", out);
    for (unsigned c = 0; c < C_N; c++)
        fprintf(out, " %s", counter_names[c]);
    fputc('\n', out);
    static struct site *order[SITES];
    unsigned n = 0;
    for (unsigned i = 0; i < SITES; i++)
        if (atomic_load(&sites[i].key) != 0)
            order[n++] = &sites[i];
    qsort(order, n, sizeof(order[0]), by_count);
    for (unsigned i = 0; i < n; i++) {
        uint64_t key = atomic_load(&order[i]->key) - 1;
        fprintf(out, "site %#lx %#lx %#lx", (unsigned long)unpack(key, 0),
                (unsigned long)unpack(key, 1), (unsigned long)unpack(key, 2));
        for (unsigned c = 0; c < C_N; c++)
            fprintf(out, " %llu", (unsigned long long)atomic_load(&order[i]->count[c]));
        fputc('\n', out);
    }
}

void *linecount_memset(void *d, int c, size_t n)
{
    note((uintptr_t)d, n, K_WRITE, RET);
    return memset(d, c, n);
}

void *linecount_memcpy(void *d, const void *s, size_t n)
{
    note((uintptr_t)s, n, K_READ, RET);
    note((uintptr_t)d, n, K_WRITE, RET);
    return memcpy(d, s, n);
}

void *linecount_memmove(void *d, const void *s, size_t n)
{
    note((uintptr_t)s, n, K_READ, RET);
    note((uintptr_t)d, n, K_WRITE, RET);
    return memmove(d, s, n);
}

int linecount_sched_yield(void)
{
    count(C_YIELD, RET);
    return sched_yield();
}

long linecount_syscall(long nr, ...)
{
    /* Six arguments, as glibc's syscall() reads them whatever nr takes. */
    va_list ap;
    long a[6];
    va_start(ap, nr);
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    if (nr == SYS_futex) {
        int op = (int)a[1] & FUTEX_CMD_MASK;
        if (op == FUTEX_WAKE || op == FUTEX_WAKE_BITSET)
            count(C_WAKE, RET);
        else if (op == FUTEX_WAIT || op == FUTEX_WAIT_BITSET)
            count(C_WAIT, RET);
    }
    return syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* ---- the entry points gcc's -fsanitize=thread emits ---- */

/* Declared here because no header declares them outside libtsan's. */
#define DECL(ret, name, ...) ret name(__VA_ARGS__); ret name(__VA_ARGS__)

DECL(void, __tsan_init, void)
{
    pthread_once(&init_once, init);
}

DECL(void, __tsan_func_entry, void *call_site)
{
    unsigned d = shadow_depth++;
    if (d < SHADOW_MAX)
        shadow[d] = (uintptr_t)call_site;
}

DECL(void, __tsan_func_exit, void)
{
    if (shadow_depth)
        shadow_depth--;
}

#define PLAIN(n)                                                                    \
    DECL(void, __tsan_read##n, void *a) { note((uintptr_t)a, n, K_READ, RET); }           \
    DECL(void, __tsan_write##n, void *a) { note((uintptr_t)a, n, K_WRITE, RET); }         \
    DECL(void, __tsan_unaligned_read##n, void *a) { note((uintptr_t)a, n, K_READ, RET); } \
    DECL(void, __tsan_unaligned_write##n, void *a) { note((uintptr_t)a, n, K_WRITE, RET); } \
    DECL(void, __tsan_volatile_read##n, void *a) { note((uintptr_t)a, n, K_READ, RET); }  \
    DECL(void, __tsan_volatile_write##n, void *a) { note((uintptr_t)a, n, K_WRITE, RET); }
PLAIN(1)
PLAIN(2)
PLAIN(4)
PLAIN(8)
PLAIN(16)

DECL(void, __tsan_read_range, void *a, unsigned long n)
{
    note((uintptr_t)a, n, K_READ, RET);
}

DECL(void, __tsan_write_range, void *a, unsigned long n)
{
    note((uintptr_t)a, n, K_WRITE, RET);
}

DECL(void, __tsan_vptr_update, void **p, void *v)
{
    (void)v;
    note((uintptr_t)p, sizeof(*p), K_WRITE, RET);
}

DECL(void, __tsan_vptr_read, void **p)
{
    note((uintptr_t)p, sizeof(*p), K_READ, RET);
}

/* The memory order argument (0 relaxed .. 5 seq_cst, as __ATOMIC_*) is
 * ignored: every operation runs seq_cst, under a mutex anyway. */
#define SC __ATOMIC_SEQ_CST

#define RMW_OP(bits, T, name, builtin)                                         \
    DECL(T, __tsan_atomic##bits##_##name, volatile T *a, T v, int mo)          \
    {                                                                          \
        (void)mo;                                                              \
        struct stripe *s = atomic_begin(a);                                    \
        T old = builtin((T *)a, v, SC);                                        \
        atomic_end(s, a, K_RMW, RET);                                          \
        return old;                                                            \
    }

/* Strong and weak compare-exchange count alike: one RMW, done strong. */
#define CAS_OP(bits, T, kind)                                                           \
    DECL(int, __tsan_atomic##bits##_compare_exchange_##kind, volatile T *a, T *c, T v,  \
         int mo, int fmo)                                                               \
    {                                                                                   \
        (void)mo, (void)fmo;                                                            \
        struct stripe *s = atomic_begin(a);                                             \
        int ok = __atomic_compare_exchange_n((T *)a, c, v, false, SC, SC);              \
        atomic_end(s, a, K_RMW, RET);                                                   \
        return ok;                                                                      \
    }

#define ATOMICS(bits, T)                                                                   \
    DECL(T, __tsan_atomic##bits##_load, const volatile T *a, int mo)                       \
    {                                                                                      \
        (void)mo;                                                                          \
        struct stripe *s = atomic_begin(a);                                                \
        T v = __atomic_load_n((const T *)a, SC);                                           \
        atomic_end(s, a, K_READ, RET);                                                     \
        return v;                                                                          \
    }                                                                                      \
    DECL(void, __tsan_atomic##bits##_store, volatile T *a, T v, int mo)                    \
    {                                                                                      \
        (void)mo;                                                                          \
        struct stripe *s = atomic_begin(a);                                                \
        __atomic_store_n((T *)a, v, SC);                                                   \
        atomic_end(s, a, K_WRITE, RET);                                                    \
    }                                                                                      \
    RMW_OP(bits, T, exchange, __atomic_exchange_n)                                         \
    RMW_OP(bits, T, fetch_add, __atomic_fetch_add)                                         \
    RMW_OP(bits, T, fetch_sub, __atomic_fetch_sub)                                         \
    RMW_OP(bits, T, fetch_and, __atomic_fetch_and)                                         \
    RMW_OP(bits, T, fetch_or, __atomic_fetch_or)                                           \
    RMW_OP(bits, T, fetch_xor, __atomic_fetch_xor)                                         \
    RMW_OP(bits, T, fetch_nand, __atomic_fetch_nand)                                       \
    CAS_OP(bits, T, strong)                                                                \
    CAS_OP(bits, T, weak)                                                                  \
    DECL(T, __tsan_atomic##bits##_compare_exchange_val, volatile T *a, T c, T v, int mo,   \
         int fmo)                                                                          \
    {                                                                                      \
        (void)mo, (void)fmo;                                                               \
        struct stripe *s = atomic_begin(a);                                                \
        __atomic_compare_exchange_n((T *)a, &c, v, false, SC, SC);                         \
        atomic_end(s, a, K_RMW, RET);                                                      \
        return c;                                                                          \
    }

ATOMICS(8, uint8_t)
ATOMICS(16, uint16_t)
ATOMICS(32, uint32_t)
ATOMICS(64, uint64_t)

DECL(void, __tsan_atomic_thread_fence, int mo)
{
    if (mo == SC) {
        __atomic_thread_fence(SC);
        count(C_FENCE, RET);
    } else {
        __atomic_signal_fence(SC);
    }
}

DECL(void, __tsan_atomic_signal_fence, int mo)
{
    (void)mo;
    __atomic_signal_fence(SC);
}
