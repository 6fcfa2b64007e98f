/* The runner of the Criterion suites (tests/<unit>_test.c) in the
 * ThreadSanitizer build, linked into each suite there instead of
 * libcriterion.
 *
 * Why not libcriterion: Criterion 2.4.1 runs every test through BoxFort,
 * which first maps a shared "arena" at a fixed address that it picks at
 * random, 16 MiB-aligned, in [0x200000000000, 0x7f0000000000), skipping
 * candidates that mincore() reports as mapped, and gives up after 10
 * candidates. ThreadSanitizer reserves almost all of that range (shadow,
 * meta and trace memory, its heap and the guard mappings between them), so
 * about 2% of the candidates are free: libcriterion aborts with "Could not
 * initialize inheritable arena: Resource temporarily unavailable" (errno
 * left over from the probe), or, when that first arena fits, crashes on a
 * NULL context when the next one (one per test) does not. No option
 * avoids it: --jobs 1 and --debug spawn through BoxFort too
 * (Snaipe/Criterion#274).
 *
 * What this file provides: the functions that Criterion's headers (2.4.x)
 * call from the code they expand to (Test(), TestSuite(), cr_assert and
 * cr_expect in both styles, cr_fatal, cr_skip_test, cr_log_*), and a main()
 * that runs the tests registered in the "cr_tst" and "cr_sts" sections the
 * way Criterion does: each test in a child process of its own (fork, no
 * exec), suite and test fixtures around it, in Criterion's order (suites,
 * then tests, by name), with its timeout (the test's, else the suite's,
 * else --default-timeout; times --timeout-scale), its expected signal or
 * exit status, and .disabled. Parameterized tests fail with a message;
 * any other Criterion function that this file does not define (theories,
 * redirections, cr_malloc, ...) is a link error that names it.
 *
 * The parent never starts a thread, so ThreadSanitizer allows the fork and
 * the threads the test starts in the child. A child passes when it ran its
 * fixtures and body to the end without a failed assertion and exited with
 * the expected status; ThreadSanitizer's reports make the child exit with
 * status 66 (its exitcode flag), which fails the test.
 *
 * Usage: <suite> [--list] [--filter GLOB] [--exclude GLOB]...
 *                [--timeout-scale X] [--default-timeout S]
 * GLOB is an fnmatch(3) pattern over "suite/test". Exit status 0 when every
 * test that ran passed (skipped and excluded ones are listed), 1 otherwise. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <criterion/criterion.h>
#include <criterion/event.h>
#include <criterion/logging.h>
#include <criterion/new/assert.h>
#include <criterion/options.h>

#include <errno.h>
#include <fnmatch.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ---- the registered tests and suites -------------------------------------------- */

/* The linker's bounds of the sections that Test() and TestSuite() fill
 * with pointers (weak: a suite may have no TestSuite()). */
extern struct criterion_test *__start_cr_tst[] __attribute__((weak));
extern struct criterion_test *__stop_cr_tst[] __attribute__((weak));
extern struct criterion_suite *__start_cr_sts[] __attribute__((weak));
extern struct criterion_suite *__stop_cr_sts[] __attribute__((weak));

/* Criterion's options: the expanded assertions read full_stats (false). */
struct criterion_options criterion_options;


/* ---- the child's side ------------------------------------------------------------ */

enum phase { PHASE_FORKED, PHASE_SETUP, PHASE_MAIN, PHASE_TEARDOWN, PHASE_END };

/* What a child reports to the runner, in a page shared across the fork. */
struct outcome {
    atomic_int phase;  /* enum phase reached */
    atomic_int failed; /* failed assertions (cr_expect's included) */
    atomic_int skipped;
};

static struct outcome *outcome;
static const struct criterion_test *cur_test;
static const struct criterion_suite *cur_suite;
static pthread_t test_thread;
static jmp_buf abort_jump; /* where criterion_abort_test returns to */

static void nothing(void)
{
}

/* A failed assertion's header line. */
static void report_failure(const char *file, unsigned long line, const char *message)
{
    atomic_fetch_add(&outcome->failed, 1);
    fprintf(stderr, "%s:%lu: assertion failed in %s/%s%s%s\n", file ? file : "?", line,
            cur_test->category, cur_test->name, message && *message ? ": " : "",
            message ? message : "");
}

/* Passing assertions are not counted. */
void cri_asserts_passed_incr(void)
{
}

/* Ends the test body, or the fixture, that failed an assertion. Only the
 * test's own thread can jump back; on any other thread the assertion
 * (already reported) ends the child. */
void criterion_abort_test(void)
{
    if (pthread_equal(pthread_self(), test_thread))
        longjmp(abort_jump, 1);
    fprintf(stderr, "(the assertion failed on another thread than the test's: the test "
                    "process ends)\n");
    fflush(NULL);
    _exit(1);
}

void criterion_continue_test(void)
{
}

void criterion_skip_test(const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    fprintf(stderr, "%s/%s: skipped: ", cur_test->category, cur_test->name);
    vfprintf(stderr, format, ap);
    fputc('\n', stderr);
    va_end(ap);
    atomic_store(&outcome->skipped, 1);
    exit(0);
}

void criterion_test_die(const char *msg, ...)
{
    va_list ap;
    va_start(ap, msg);
    atomic_fetch_add(&outcome->failed, 1);
    fprintf(stderr, "%s/%s: aborted: ", cur_test->category, cur_test->name);
    vfprintf(stderr, msg, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1);
}

void criterion_internal_test_setup(void)
{
    atomic_store(&outcome->phase, PHASE_SETUP);
    if (setjmp(abort_jump) == 0) {
        if (cur_suite && cur_suite->data && cur_suite->data->init)
            cur_suite->data->init();
        (cur_test->data->init ? cur_test->data->init : nothing)();
        return;
    }
    fprintf(stderr, "%s/%s: an assertion failed in the setup\n", cur_test->category,
            cur_test->name);
    exit(1);
}

void criterion_internal_test_main(void (*fn)(void))
{
    atomic_store(&outcome->phase, PHASE_MAIN);
    if (cur_test->data->param_) {
        report_failure(cur_test->data->file_, cur_test->data->line_,
                       "parameterized tests are not supported by tests/support/tsan_runner.c");
    } else if (setjmp(abort_jump) == 0) {
        fn();
    }
    atomic_store(&outcome->phase, PHASE_TEARDOWN);
}

void criterion_internal_test_teardown(void)
{
    if (setjmp(abort_jump) == 0) {
        (cur_test->data->fini ? cur_test->data->fini : nothing)();
        if (cur_suite && cur_suite->data && cur_suite->data->fini)
            cur_suite->data->fini();
    }
    atomic_store(&outcome->phase, PHASE_END);
}

/* ---- assertions and logging ------------------------------------------------------ */

int cr_vasprintf(char **strp, const char *fmt, va_list ap)
{
    return vasprintf(strp, fmt, ap);
}

int cr_asprintf(char **strp, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = vasprintf(strp, fmt, ap);
    va_end(ap);
    return rc;
}

void cr_asprintf_free(char *buf)
{
    free(buf);
}

/* The default messages of the classic assertions (cr_assert_eq,
 * cr_assert_null, ...), by enum criterion_assert_messages; the C++-only
 * ones get none. */
char *cr_translate_assert_msg(int msg_index, ...)
{
    static const char *const messages[] = {
        [CRITERION_ASSERT_MSG_FAIL] = "the assertion failed",
        [CRITERION_ASSERT_MSG_EXPR_FALSE] = "%s is false",
        [CRITERION_ASSERT_MSG_EXPR_AS_STRINGS_FALSE] =
            "%s is false (compared as strings: actual %s, expected %s)",
        [CRITERION_ASSERT_MSG_IS_NULL] = "%s is NULL",
        [CRITERION_ASSERT_MSG_IS_NOT_NULL] = "%s is not NULL",
        [CRITERION_ASSERT_MSG_IS_EMPTY] = "%s is empty",
        [CRITERION_ASSERT_MSG_IS_NOT_EMPTY] = "%s is not empty: %s",
        [CRITERION_ASSERT_MSG_FILE_STR_MATCH] = "the contents of %s differ from \"%s\"",
        [CRITERION_ASSERT_MSG_FILE_MATCH] = "the contents of %s differ from those of %s",
    };
    if (msg_index < 0 || (size_t)msg_index >= sizeof(messages) / sizeof(*messages)
        || messages[msg_index] == NULL)
        return strdup("");
    char *out = NULL;
    va_list ap;
    va_start(ap, msg_index);
    if (vasprintf(&out, messages[msg_index], ap) < 0)
        out = NULL;
    va_end(ap);
    return out;
}

/* A classic assertion (cr_assert_eq, cr_assert_null, ...). */
void criterion_send_assert(struct criterion_assert_stats *stats)
{
    if (!stats->passed)
        report_failure(stats->file, stats->line, stats->message);
}

void cr_log(enum criterion_severity severity, const char *msg, ...)
{
    static const char *const names[] = {"info", "warning", "error"};
    va_list ap;
    va_start(ap, msg);
    fprintf(stderr, "[%s] ", (unsigned)severity < 3 ? names[severity] : "log");
    vfprintf(stderr, msg, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* The new-style assertions (cr_assert(eq(int, a, b)), ...) build a tree of
 * nodes, one per specifier, and send the root when the condition fails. */
void cri_assert_node_init(struct cri_assert_node *node)
{
    *node = (struct cri_assert_node){.nchild = 0};
}

struct cri_assert_node *cri_assert_node_add(struct cri_assert_node *tree,
                                            struct cri_assert_node *node)
{
    if (tree->nchild + 1u >= tree->maxchild) {
        uint32_t max = (tree->maxchild + 1u) * 2;
        struct cri_assert_node *c = realloc(tree->children, max * sizeof(*c));
        if (c == NULL)
            criterion_test_die("out of memory for an assertion's result");
        tree->children = c;
        tree->maxchild = max;
    }
    tree->children[tree->nchild++] = *node;
    return &tree->children[tree->nchild - 1];
}

void cri_assert_node_negate(struct cri_assert_node *tree)
{
    for (size_t i = 0; i < tree->nchild; i++)
        cri_assert_node_negate(&tree->children[i]);
    tree->pass = !tree->pass;
}

void cri_assert_node_term(struct cri_assert_node *tree)
{
    for (struct cri_assert_param *p = tree->params; p < tree->params + CRI_ASSERT_MAX_PARAMS
                                                    && p->name;
         p++)
        free(p->data);
    for (size_t i = 0; i < tree->nchild; i++)
        cri_assert_node_term(&tree->children[i]);
    free((char *)tree->message);
    free(tree->children);
    if (tree->dynrepr)
        free((char *)tree->repr);
}

/* Print the failing nodes under tree: each one's expression and, when it
 * has them, its parameters (actual, expected, ...). */
static void print_failed_nodes(const struct cri_assert_node *tree, int depth)
{
    for (size_t i = 0; i < tree->nchild; i++) {
        const struct cri_assert_node *n = &tree->children[i];
        if (n->pass)
            continue;
        if (n->repr)
            fprintf(stderr, "%*s%s\n", 2 * depth, "", n->repr);
        for (const struct cri_assert_param *p = n->params;
             p < n->params + CRI_ASSERT_MAX_PARAMS && p->name; p++)
            fprintf(stderr, "%*s%s: %s\n", 2 * depth + 2, "", p->name,
                    p->type == CRI_ASSERT_RT_STR && p->data ? (const char *)p->data : "(raw)");
        print_failed_nodes(n, depth + 1);
    }
}

void cri_assert_node_send(const char *file, size_t line, struct cri_assert_node *tree)
{
    report_failure(file, line, tree->message);
    print_failed_nodes(tree, 1);
}

/* The message argument of a new-style assertion, behind a one-character
 * prefix ("x" fmt, so that an empty one is a valid format). */
char *cri_assert_message(const char *fmt, ...)
{
    char *out = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (fmt[1] == '\0' || vasprintf(&out, fmt + 1, ap) < 0)
        out = strdup("");
    va_end(ap);
    return out;
}

/* The str tag of the new-style assertions (eq(str, a, b), ...). */
int cr_user_str_eq(char **actual, char **expected)
{
    return strcmp(*actual, *expected) == 0;
}

int cr_user_str_lt(char **actual, char **expected)
{
    return strcmp(*actual, *expected) < 0;
}

int cr_user_str_zero(char **val)
{
    return **val == '\0';
}

char *cr_user_str_tostr(char **e)
{
    char *out = NULL;
    return asprintf(&out, "\"%s\"", *e) < 0 ? NULL : out;
}

/* ---- the runner's side ----------------------------------------------------------- */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_tests(const void *a, const void *b)
{
    const struct criterion_test *x = *(const struct criterion_test *const *)a;
    const struct criterion_test *y = *(const struct criterion_test *const *)b;
    int c = strcmp(x->category, y->category);
    return c ? c : strcmp(x->name, y->name);
}

static const struct criterion_suite *suite_of(const struct criterion_test *t)
{
    if (__start_cr_sts == NULL)
        return NULL;
    for (struct criterion_suite **s = __start_cr_sts; s < __stop_cr_sts; s++)
        if (*s && strcmp((*s)->name, t->category) == 0)
            return *s;
    return NULL;
}

struct options {
    const char *filter;
    const char **exclude;
    int nexclude;
    double scale, default_timeout;
    bool list;
};

static bool matches(const char *pattern, const struct criterion_test *t)
{
    char id[512];
    snprintf(id, sizeof(id), "%s/%s", t->category, t->name);
    return fnmatch(pattern, id, 0) == 0;
}

static void usage(FILE *f, const char *prog)
{
    fprintf(f,
            "usage: %s [--list] [--filter GLOB] [--exclude GLOB]... [--timeout-scale X]\n"
            "          [--default-timeout S]\n"
            "Runs each Criterion test of this suite in a child process of its own.\n"
            "GLOB: an fnmatch(3) pattern over suite/test. A test's timeout is its own,\n"
            "else its suite's, else S (default 60), in seconds, times X (default 1).\n",
            prog);
}

static int parse_args(int argc, char **argv, struct options *o)
{
    *o = (struct options){.scale = 1, .default_timeout = 60};
    o->exclude = calloc((size_t)argc, sizeof(*o->exclude));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--list") == 0) {
            o->list = true;
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout, argv[0]);
            exit(0);
        }
        if (v == NULL) {
            usage(stderr, argv[0]);
            return -1;
        }
        if (strcmp(a, "--filter") == 0)
            o->filter = v;
        else if (strcmp(a, "--exclude") == 0)
            o->exclude[o->nexclude++] = v;
        else if (strcmp(a, "--timeout-scale") == 0)
            o->scale = strtod(v, NULL);
        else if (strcmp(a, "--default-timeout") == 0)
            o->default_timeout = strtod(v, NULL);
        else {
            usage(stderr, argv[0]);
            return -1;
        }
        if (o->scale <= 0 || o->default_timeout <= 0) {
            fprintf(stderr, "%s: timeouts must be positive\n", argv[0]);
            return -1;
        }
        i++;
    }
    return 0;
}

/* Run t in a child; returns 1 if it passed, 0 if it failed, -1 if it
 * skipped itself. */
static int run_one(const struct criterion_test *t, const struct criterion_suite *s,
                   double timeout)
{
    const struct criterion_test_extra_data *d = t->data;
    atomic_store(&outcome->phase, PHASE_FORKED);
    atomic_store(&outcome->failed, 0);
    atomic_store(&outcome->skipped, 0);
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "fork: %s\n", strerror(errno));
        return 0;
    }
    if (pid == 0) {
        /* The runner's death (ctest's timeout) ends the test too. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(1);
        cur_test = t;
        cur_suite = s;
        test_thread = pthread_self();
        t->test();
        fflush(NULL);
        exit(0);
    }

    double start = now_s(), deadline = start + timeout;
    long nap_us = 100;
    int st = 0;
    bool timed_out = false;
    struct rusage ru = {0};
    for (;;) {
        pid_t r = wait4(pid, &st, WNOHANG, &ru);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR) {
            fprintf(stderr, "wait4: %s\n", strerror(errno));
            return 0;
        }
        if (now_s() >= deadline) {
            timed_out = true;
            kill(pid, SIGKILL);
            while (wait4(pid, &st, 0, &ru) < 0 && errno == EINTR) {
            }
            break;
        }
        struct timespec nap = {0, nap_us * 1000};
        nanosleep(&nap, NULL);
        nap_us = nap_us < 10000 ? nap_us * 2 : 10000;
    }
    double took = now_s() - start;
    long mib = ru.ru_maxrss / 1024; /* peak RSS of the child (and its children) */

    const char *why = NULL;
    char buf[160];
    int phase = atomic_load(&outcome->phase), failed = atomic_load(&outcome->failed);
    if (timed_out) {
        snprintf(buf, sizeof(buf), "timed out after %.0f s", timeout);
        why = buf;
    } else if (d->signal) {
        if (!WIFSIGNALED(st) || WTERMSIG(st) != d->signal) {
            snprintf(buf, sizeof(buf), "expected signal %d (%s), got wait status 0x%x", d->signal,
                     strsignal(d->signal), (unsigned)st);
            why = buf;
        }
    } else if (WIFSIGNALED(st)) {
        snprintf(buf, sizeof(buf), "killed by signal %d (%s)", WTERMSIG(st),
                 strsignal(WTERMSIG(st)));
        why = buf;
    } else if (WEXITSTATUS(st) != d->exit_code) {
        snprintf(buf, sizeof(buf), "exited with status %d%s", WEXITSTATUS(st),
                 WEXITSTATUS(st) == 66 ? " (ThreadSanitizer's exit code: see its report above)"
                                       : "");
        why = buf;
    } else if (failed > 0) {
        snprintf(buf, sizeof(buf), "%d assertion%s failed", failed, failed > 1 ? "s" : "");
        why = buf;
    } else if (atomic_load(&outcome->skipped)) {
        printf("[SKIP] %s/%s\n", t->category, t->name);
        return -1;
    } else if (d->exit_code == 0 && phase != PHASE_END) {
        why = phase == PHASE_MAIN ? "exited during the test" : "exited during a fixture";
    }
    if (why) {
        printf("[FAIL] %s/%s (%.2f s, %ld MiB): %s\n", t->category, t->name, took, mib, why);
        return 0;
    }
    printf("[PASS] %s/%s (%.2f s, %ld MiB)\n", t->category, t->name, took, mib);
    return 1;
}

int main(int argc, char **argv)
{
    struct options o;
    if (parse_args(argc, argv, &o) != 0)
        return 2;
    setvbuf(stdout, NULL, _IOLBF, 0);

    size_t n = 0;
    struct criterion_test **tests = NULL;
    if (__start_cr_tst != NULL) {
        tests = calloc((size_t)(__stop_cr_tst - __start_cr_tst) + 1, sizeof(*tests));
        for (struct criterion_test **p = __start_cr_tst; p < __stop_cr_tst; p++)
            if (*p)
                tests[n++] = *p;
    }
    qsort(tests, n, sizeof(*tests), cmp_tests);
    if (o.list) {
        for (size_t i = 0; i < n; i++)
            printf("%s/%s\n", tests[i]->category, tests[i]->name);
        return 0;
    }

    outcome = mmap(NULL, sizeof(*outcome), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                   -1, 0);
    if (outcome == MAP_FAILED) {
        perror("mmap");
        return 2;
    }
    int passed = 0, failed = 0, skipped = 0, excluded = 0;
    double start = now_s();
    for (size_t i = 0; i < n; i++) {
        const struct criterion_test *t = tests[i];
        const struct criterion_suite *s = suite_of(t);
        if (o.filter && !matches(o.filter, t))
            continue;
        bool out = false;
        for (int k = 0; k < o.nexclude && !out; k++)
            out = matches(o.exclude[k], t);
        if (out) {
            printf("[EXCL] %s/%s\n", t->category, t->name);
            excluded++;
            continue;
        }
        if (t->data->disabled || (s && s->data && s->data->disabled)) {
            printf("[SKIP] %s/%s (disabled)\n", t->category, t->name);
            skipped++;
            continue;
        }
        double timeout = s && s->data && s->data->timeout > 0 ? s->data->timeout : 0;
        if (t->data->timeout > 0)
            timeout = t->data->timeout;
        if (timeout <= 0)
            timeout = o.default_timeout;
        int r = run_one(t, s, timeout * o.scale);
        passed += r == 1;
        failed += r == 0;
        skipped += r == -1;
    }
    printf("Synthesis: Tested: %d | Passing: %d | Failing: %d | Skipped: %d | Excluded: %d "
           "(%.1f s)\n",
           passed + failed, passed, failed, skipped, excluded, now_s() - start);
    free(tests);
    free(o.exclude);
    return failed ? 1 : 0;
}
