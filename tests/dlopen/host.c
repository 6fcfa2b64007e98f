/* A thread loads a plugin that uses weft, runs it, unloads it and exits.
 * The thread's exit must not call into unloaded code (weft keeps a
 * thread-exit destructor for its future slabs). Exits 0 on success; a
 * regression crashes at thread exit. Argument: the plugin's path. */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

static const char *path;
static long answer = -2;

static void *use_and_unload(void *unused)
{
    (void)unused;
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return NULL;
    }
    long (*fib)(unsigned) = (long (*)(unsigned))dlsym(h, "plugin_fib");
    if (fib != NULL)
        answer = fib(20);
    if (dlclose(h) != 0)
        answer = -3;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    path = argv[1];
    for (int round = 0; round < 3; round++) {
        pthread_t t;
        if (pthread_create(&t, NULL, use_and_unload, NULL) != 0 || pthread_join(t, NULL) != 0)
            return 1;
        if (answer != 6765) {
            fprintf(stderr, "round %d: fib(20) = %ld, want 6765\n", round, answer);
            return 1;
        }
    }
    printf("dlopen: loaded, used and unloaded weft 3 times\n");
    return 0;
}
