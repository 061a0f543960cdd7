/*
 * pool.c: a persistent thread pool for the forward pass. One job at a time;
 * the caller is worker 0. Between jobs (microseconds apart during a forward
 * pass) workers spin on the generation counter, then sleep on a condition
 * variable so an idle context costs no CPU.
 */
#include <pthread.h>
#include <stdlib.h>

#include "internal.h"

#define SPIN_ITERS (1 << 15)

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#else
#define cpu_relax() ((void)0)
#endif

struct worker {
	struct inf_pool *pool;
	uint32_t ith;
	pthread_t thread;
};

struct inf_pool {
	uint32_t n;                       /* workers, the caller included */
	struct worker *workers;           /* (n - 1) threads */
	void (*fn)(void *arg, uint32_t ith, uint32_t nth);
	void *arg;
	atomic_uint generation;           /* bumped once per job */
	atomic_uint done;                 /* threads finished with the job */
	atomic_bool stop;
	pthread_mutex_t mu;
	pthread_cond_t work_cv, done_cv;
};

static void *worker_main(void *p)
{
	struct worker *w = p;
	struct inf_pool *pool = w->pool;
	unsigned seen = 0;
	for (;;) {
		unsigned g = atomic_load_explicit(&pool->generation, memory_order_acquire);
		for (int i = 0; g == seen && i < SPIN_ITERS && !atomic_load(&pool->stop); i++) {
			cpu_relax();
			g = atomic_load_explicit(&pool->generation, memory_order_acquire);
		}
		if (g == seen) {
			pthread_mutex_lock(&pool->mu);
			while ((g = atomic_load(&pool->generation)) == seen && !atomic_load(&pool->stop))
				pthread_cond_wait(&pool->work_cv, &pool->mu);
			pthread_mutex_unlock(&pool->mu);
		}
		if (atomic_load(&pool->stop))
			return NULL;
		seen = g;
		pool->fn(pool->arg, w->ith, pool->n);
		if (atomic_fetch_add(&pool->done, 1) + 1 == pool->n - 1) {
			pthread_mutex_lock(&pool->mu);
			pthread_cond_signal(&pool->done_cv);
			pthread_mutex_unlock(&pool->mu);
		}
	}
}

int inf_pool_create(uint32_t n_threads, struct inf_pool **out)
{
	*out = NULL;
	if (n_threads < 1)
		return INF_EINVAL;
	struct inf_pool *pool = calloc(1, sizeof *pool);
	if (!pool)
		return INF_ENOMEM;
	pool->n = n_threads;
	pthread_mutex_init(&pool->mu, NULL);
	pthread_cond_init(&pool->work_cv, NULL);
	pthread_cond_init(&pool->done_cv, NULL);
	if (n_threads > 1) {
		pool->workers = calloc(n_threads - 1, sizeof *pool->workers);
		if (!pool->workers) {
			inf_pool_free(pool);
			return INF_ENOMEM;
		}
	}
	for (uint32_t i = 0; i + 1 < n_threads; i++) {
		pool->workers[i].pool = pool;
		pool->workers[i].ith = i + 1;
		if (pthread_create(&pool->workers[i].thread, NULL, worker_main, &pool->workers[i])) {
			pool->n = i + 1;     /* join only those started */
			inf_pool_free(pool);
			return INF_ENOMEM;
		}
	}
	*out = pool;
	return 0;
}

void inf_pool_free(struct inf_pool *pool)
{
	if (!pool)
		return;
	pthread_mutex_lock(&pool->mu);
	atomic_store(&pool->stop, true);
	pthread_cond_broadcast(&pool->work_cv);
	pthread_mutex_unlock(&pool->mu);
	for (uint32_t i = 0; i + 1 < pool->n; i++)
		pthread_join(pool->workers[i].thread, NULL);
	pthread_cond_destroy(&pool->work_cv);
	pthread_cond_destroy(&pool->done_cv);
	pthread_mutex_destroy(&pool->mu);
	free(pool->workers);
	free(pool);
}

uint32_t inf_pool_size(const struct inf_pool *pool)
{
	return pool->n;
}

void inf_pool_run(struct inf_pool *pool, void (*fn)(void *arg, uint32_t ith, uint32_t nth), void *arg)
{
	if (pool->n == 1) {
		fn(arg, 0, 1);
		return;
	}
	pool->fn = fn;
	pool->arg = arg;
	atomic_store(&pool->done, 0);
	pthread_mutex_lock(&pool->mu);
	atomic_fetch_add_explicit(&pool->generation, 1, memory_order_release);
	pthread_cond_broadcast(&pool->work_cv);
	pthread_mutex_unlock(&pool->mu);
	fn(arg, 0, pool->n);
	for (int i = 0; i < SPIN_ITERS && atomic_load(&pool->done) != pool->n - 1; i++)
		cpu_relax();
	if (atomic_load(&pool->done) != pool->n - 1) {
		pthread_mutex_lock(&pool->mu);
		while (atomic_load(&pool->done) != pool->n - 1)
			pthread_cond_wait(&pool->done_cv, &pool->mu);
		pthread_mutex_unlock(&pool->mu);
	}
}
