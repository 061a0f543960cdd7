/*
 * pool.c: a persistent thread pool for the forward pass. One job at a time;
 * the caller is worker 0. A job is n chunks that the running workers claim
 * one at a time, each from its own range first, then from the others', so a
 * thread the scheduler takes away (the machine is shared) costs only the
 * chunk it holds: the others take the rest, and the caller waits for
 * finished chunks, not for every worker. Between jobs (microseconds apart
 * during a forward pass) workers spin on the generation counter, then sleep
 * on a condition variable so an idle context costs no CPU.
 */
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define SPIN_ITERS (1 << 15)      /* a worker's spin before it sleeps */
#define WAIT_SPINS (1 << 16)      /* the caller's spin before it yields its CPU */
#define IDLE UINT32_MAX           /* cursor index: no chunks to claim */

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

/*
 * Each worker owns a contiguous range of the job's chunks (so in the common
 * case each streams its own part of a matrix and touches no other core's
 * cache line) and, once it is through, steals from the others' ranges. A
 * range's cursor is (generation << 32 | next chunk); claiming is a CAS on it.
 * The caller sets every cursor's index to IDLE before it touches the job's
 * fields, and publishes n_chunks (release) before the new cursors, so a
 * worker that read an old job's cursor can never claim in a newer job. fn
 * and arg are read only after a successful claim, while the caller is still
 * waiting on that chunk.
 */
struct cursor {
	_Alignas(64) _Atomic uint64_t at;
};

struct inf_pool {
	uint32_t n;                       /* workers, the caller included */
	struct worker *workers;           /* (n - 1) threads */
	void (*fn)(void *arg, uint32_t chunk, uint32_t worker);
	void *arg;
	struct cursor *cursors;           /* n, one per worker's range */
	_Alignas(64) atomic_uint gen;     /* bumped once per job: wakes the workers */
	atomic_uint n_chunks;
	_Alignas(64) atomic_uint done;    /* chunks finished (its own cache line) */
	_Alignas(64) atomic_uint sleepers;
	atomic_bool stop;
	pthread_mutex_t mu;
	pthread_cond_t work_cv;
};

/* Claims and runs chunks of range k until it is exhausted; returns how many. */
static uint32_t drain(struct inf_pool *pool, uint32_t k, uint32_t ith)
{
	_Atomic uint64_t *at = &pool->cursors[k].at;
	uint64_t t = atomic_load_explicit(at, memory_order_acquire);
	uint32_t ran = 0;
	for (;;) {
		uint32_t i = (uint32_t)t;
		if (i == IDLE)
			break;
		uint64_t n = atomic_load_explicit(&pool->n_chunks, memory_order_acquire);
		if (i >= n * (k + 1) / pool->n)
			break;
		if (!atomic_compare_exchange_weak_explicit(at, &t, t + 1, memory_order_acq_rel, memory_order_acquire))
			continue;
		pool->fn(pool->arg, i, ith);
		ran++;
		t = atomic_load_explicit(at, memory_order_acquire);
	}
	return ran;
}

/* Worker ith's share of the current job: its own range, then the others'. */
static void work(struct inf_pool *pool, uint32_t ith)
{
	uint32_t ran = 0;
	for (uint32_t d = 0; d < pool->n; d++)
		ran += drain(pool, (ith + d) % pool->n, ith);
	/* counted once per worker and job: one cache-line transfer, not one a chunk */
	if (ran)
		atomic_fetch_add_explicit(&pool->done, ran, memory_order_release);
}

static void *worker_main(void *p)
{
	struct worker *w = p;
	struct inf_pool *pool = w->pool;
	uint32_t seen = 0;
	for (;;) {
		uint32_t g = atomic_load_explicit(&pool->gen, memory_order_acquire);
		for (int i = 0; g == seen && i < SPIN_ITERS; i++) {
			cpu_relax();
			g = atomic_load_explicit(&pool->gen, memory_order_acquire);
		}
		if (g == seen) {
			pthread_mutex_lock(&pool->mu);
			atomic_fetch_add(&pool->sleepers, 1);
			while ((g = atomic_load(&pool->gen)) == seen && !atomic_load(&pool->stop))
				pthread_cond_wait(&pool->work_cv, &pool->mu);
			atomic_fetch_sub(&pool->sleepers, 1);
			pthread_mutex_unlock(&pool->mu);
		}
		if (atomic_load(&pool->stop))
			return NULL;
		seen = g;
		work(pool, w->ith);
	}
}

int inf_pool_create(uint32_t n_threads, struct inf_pool **out)
{
	*out = NULL;
	if (n_threads < 1)
		return INF_EINVAL;
	/* aligned: the generation and the done count sit on cache lines of their own */
	struct inf_pool *pool = aligned_alloc(64, (sizeof *pool + 63) / 64 * 64);
	if (!pool)
		return INF_ENOMEM;
	memset(pool, 0, sizeof *pool);
	pool->n = n_threads;
	pool->cursors = aligned_alloc(64, n_threads * sizeof *pool->cursors);
	if (!pool->cursors) {
		free(pool);
		return INF_ENOMEM;
	}
	for (uint32_t i = 0; i < n_threads; i++)
		atomic_init(&pool->cursors[i].at, IDLE);
	pthread_mutex_init(&pool->mu, NULL);
	pthread_cond_init(&pool->work_cv, NULL);
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
	atomic_fetch_add(&pool->gen, 1);   /* wakes the spinners; the cursors stay IDLE */
	pthread_cond_broadcast(&pool->work_cv);
	pthread_mutex_unlock(&pool->mu);
	for (uint32_t i = 0; i + 1 < pool->n; i++)
		pthread_join(pool->workers[i].thread, NULL);
	pthread_cond_destroy(&pool->work_cv);
	pthread_mutex_destroy(&pool->mu);
	free(pool->workers);
	free(pool->cursors);
	free(pool);
}

uint32_t inf_pool_size(const struct inf_pool *pool)
{
	return pool->n;
}

void inf_pool_run_chunks(struct inf_pool *pool, void (*fn)(void *arg, uint32_t chunk, uint32_t worker), void *arg,
			 uint32_t n_chunks)
{
	if (pool->n == 1 || n_chunks <= 1) {
		for (uint32_t i = 0; i < n_chunks; i++)
			fn(arg, i, 0);
		return;
	}
	/* every cursor is IDLE here (since the last job ended): no worker can
	 * claim while the fields change */
	pool->fn = fn;
	pool->arg = arg;
	atomic_store_explicit(&pool->done, 0, memory_order_relaxed);
	atomic_store_explicit(&pool->n_chunks, n_chunks, memory_order_release);
	uint32_t gen = atomic_load_explicit(&pool->gen, memory_order_relaxed) + 1;
	for (uint32_t k = 0; k < pool->n; k++)
		atomic_store_explicit(&pool->cursors[k].at, (uint64_t)gen << 32 | (uint64_t)n_chunks * k / pool->n,
				      memory_order_release);
	atomic_store(&pool->gen, gen);
	if (atomic_load(&pool->sleepers)) {
		pthread_mutex_lock(&pool->mu);
		pthread_cond_broadcast(&pool->work_cv);
		pthread_mutex_unlock(&pool->mu);
	}
	work(pool, 0);
	/* every chunk is claimed; wait for those others hold (a chunk is
	 * microseconds). Spinning keeps this CPU on a busy machine, where a
	 * yield can lose it for a whole time slice; only a long wait (the
	 * holder preempted) yields. */
	for (int i = 0; atomic_load_explicit(&pool->done, memory_order_acquire) != n_chunks; i++) {
		if (i < WAIT_SPINS)
			cpu_relax();
		else
			sched_yield();
	}
	for (uint32_t k = 0; k < pool->n; k++)
		atomic_store_explicit(&pool->cursors[k].at, (uint64_t)gen << 32 | IDLE, memory_order_relaxed);
}

struct static_job {
	void (*fn)(void *arg, uint32_t ith, uint32_t nth);
	void *arg;
	uint32_t nth;
};

static void static_chunk(void *arg, uint32_t chunk, uint32_t worker)
{
	(void)worker;
	const struct static_job *j = arg;
	j->fn(j->arg, chunk, j->nth);
}

void inf_pool_run(struct inf_pool *pool, void (*fn)(void *arg, uint32_t ith, uint32_t nth), void *arg)
{
	struct static_job j = { fn, arg, pool->n };
	inf_pool_run_chunks(pool, static_chunk, &j, pool->n);
}
