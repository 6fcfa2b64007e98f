/* Small compiler helpers shared by the runtime. Nothing else lives here. */
#ifndef WEFT_COMPILER_H
#define WEFT_COMPILER_H

/* 128 bytes: x86's adjacent-line prefetcher pulls 64-byte lines in pairs, so
 * data written by different threads is kept 128 bytes apart. */
#define WEFT_CACHE_LINE 128
#define WEFT_ALIGNED alignas(WEFT_CACHE_LINE)

#define weft_likely(x) __builtin_expect(!!(x), 1)
#define weft_unlikely(x) __builtin_expect(!!(x), 0)

#define WEFT_HIDDEN __attribute__((visibility("hidden")))

#define weft_container_of(ptr, type, member) \
    ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* A pause hint for bounded spin loops (never an unbounded spin). */
static inline void weft__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

/* Abort with a message on a broken internal invariant (never on user error). */
void weft__die(const char *file, int line, const char *msg) __attribute__((noreturn));
#define WEFT_ASSERT(cond) \
    do { if (weft_unlikely(!(cond))) weft__die(__FILE__, __LINE__, #cond); } while (0)
#ifdef NDEBUG
#define WEFT_DEBUG_ASSERT(cond) ((void)0)
#define WEFT_DEBUG_FAIL(msg) ((void)0)
#else
#define WEFT_DEBUG_ASSERT(cond) WEFT_ASSERT(cond)
#define WEFT_DEBUG_FAIL(msg) weft__die(__FILE__, __LINE__, msg)
#endif

/* ThreadSanitizer does not model atomic_thread_fence. Under WEFT_TSAN the
 * fences in the deque and the parking protocol are replaced by seq_cst RMWs
 * on a dummy location, which give the same store-load ordering and which TSan
 * understands (the trick crossbeam uses). */
#if defined(__SANITIZE_THREAD__)
#define WEFT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_TSAN 1
#endif
#endif

#endif
