// Thread pool: a fixed set of pthreads woken per task; the caller acts as
// worker 0. Work split is by (ith, nth) so results do not depend on timing.
#include "core/common.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

struct pc_pool {
    int n;                  // total workers including the caller
    pthread_t *threads;     // n - 1 helpers
    pthread_mutex_t mu;
    pthread_cond_t cv_start;
    pthread_cond_t cv_done;
    uint64_t generation;    // bumped per task
    int pending;            // helpers still running the current task
    int quit;
    pc_task_fn fn;
    void *ctx;
    int gemm_bf16;          // pc_pool_set_gemm_bf16
};

typedef struct {
    pc_pool *pool;
    int ith;
} worker_arg;

static void *worker_main(void *p) {
    worker_arg *wa = (worker_arg *)p;
    pc_pool *pool = wa->pool;
    int ith = wa->ith;
    free(wa);
    uint64_t seen = 0;
    for (;;) {
        pthread_mutex_lock(&pool->mu);
        while (!pool->quit && pool->generation == seen) pthread_cond_wait(&pool->cv_start, &pool->mu);
        if (pool->quit) {
            pthread_mutex_unlock(&pool->mu);
            return NULL;
        }
        seen = pool->generation;
        pc_task_fn fn = pool->fn;
        void *ctx = pool->ctx;
        pthread_mutex_unlock(&pool->mu);

        fn(ctx, ith, pool->n);

        pthread_mutex_lock(&pool->mu);
        if (--pool->pending == 0) pthread_cond_signal(&pool->cv_done);
        pthread_mutex_unlock(&pool->mu);
    }
}

pc_status pc_pool_create(pc_pool **out, int n_threads, pc_error *err) {
    *out = NULL;
    if (n_threads <= 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        n_threads = n > 0 ? (int)n : 1;
    }
    if (n_threads > 1024) return pc_err(err, PC_ERR_ARG, "thread count %d too large", n_threads);
    pc_pool *pool = (pc_pool *)calloc(1, sizeof(*pool));
    if (!pool) return pc_err(err, PC_ERR_MEMORY, "out of memory creating thread pool");
    pool->n = n_threads;
    pthread_mutex_init(&pool->mu, NULL);
    pthread_cond_init(&pool->cv_start, NULL);
    pthread_cond_init(&pool->cv_done, NULL);
    if (n_threads > 1) {
        pool->threads = (pthread_t *)calloc((size_t)(n_threads - 1), sizeof(pthread_t));
        if (!pool->threads) {
            free(pool);
            return pc_err(err, PC_ERR_MEMORY, "out of memory creating thread pool");
        }
        for (int i = 1; i < n_threads; i++) {
            worker_arg *wa = (worker_arg *)malloc(sizeof(*wa));
            if (!wa || pthread_create(&pool->threads[i - 1], NULL, worker_main, wa ? (wa->pool = pool, wa->ith = i, wa) : NULL) != 0) {
                free(wa);
                pool->n = i;  // shut down the ones that started
                pc_pool_free(pool);
                return pc_err(err, PC_ERR_MEMORY, "cannot start worker thread %d", i);
            }
        }
    }
    *out = pool;
    return PC_OK;
}

void pc_pool_free(pc_pool *pool) {
    if (!pool) return;
    pthread_mutex_lock(&pool->mu);
    pool->quit = 1;
    pthread_cond_broadcast(&pool->cv_start);
    pthread_mutex_unlock(&pool->mu);
    for (int i = 1; i < pool->n; i++) pthread_join(pool->threads[i - 1], NULL);
    free(pool->threads);
    pthread_mutex_destroy(&pool->mu);
    pthread_cond_destroy(&pool->cv_start);
    pthread_cond_destroy(&pool->cv_done);
    free(pool);
}

int pc_pool_size(const pc_pool *pool) { return pool ? pool->n : 1; }

void pc_pool_set_gemm_bf16(pc_pool *pool, int on) {
    if (pool) pool->gemm_bf16 = on != 0;
}

int pc_pool_gemm_bf16(const pc_pool *pool) { return pool ? pool->gemm_bf16 : 0; }

void pc_pool_run(pc_pool *pool, pc_task_fn fn, void *ctx) {
    if (!pool || pool->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    pthread_mutex_lock(&pool->mu);
    pool->fn = fn;
    pool->ctx = ctx;
    pool->pending = pool->n - 1;
    pool->generation++;
    pthread_cond_broadcast(&pool->cv_start);
    pthread_mutex_unlock(&pool->mu);

    fn(ctx, 0, pool->n);

    pthread_mutex_lock(&pool->mu);
    while (pool->pending > 0) pthread_cond_wait(&pool->cv_done, &pool->mu);
    pthread_mutex_unlock(&pool->mu);
}

void pc_split_range(int64_t n, int ith, int nth, int64_t *begin, int64_t *end) {
    int64_t base = n / nth, rem = n % nth;
    *begin = ith * base + PC_MIN((int64_t)ith, rem);
    *end = *begin + base + (ith < rem ? 1 : 0);
}
