/* The inference module: the models tetherd knows (scanned off the loop),
 * loading them off the loop with progress and a memory check, unloading
 * them (by request, to make room, or after keep_alive idle), and what
 * hello and status say of them. The requests are msg_infer.c's. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "infer_internal.h"

#define MiB (1024.0 * 1024.0)

/* ---- the scan: which models there are ---- */

struct scan_entry {
	struct scan_entry *next;
	char id[INFER_ID_MAX + 1];
	char path[RELAY_PATH_MAX];
	uint64_t file_bytes;
	int64_t mtime_ns;
	bool known;                         /* same file as the last scan saw: not read again */
	bool loadable;
	char reason[INF_ERR_MAX];
	char arch[32], name[128], chat_family[32], types[160];
	uint32_t n_ctx_train, n_layer, dim, n_vocab;
	uint64_t n_params, weight_bytes;
};

struct infer_scan {
	uv_work_t work;
	struct relay_infer *inf;
	char dir[RELAY_PATH_MAX];
	char (*paths)[RELAY_PATH_MAX];
	size_t n_paths;
	struct scan_entry *known;           /* path, size and mtime of what was known */
	struct scan_entry *found;           /* the result, in order */
};

static void fill_info(struct scan_entry *e, struct inf_model *m)
{
	struct inf_model_info i;
	inf_model_get_info(m, &i);
	snprintf(e->arch, sizeof e->arch, "%s", i.arch);
	snprintf(e->name, sizeof e->name, "%s", i.name);
	snprintf(e->chat_family, sizeof e->chat_family, "%s", i.has_chat_template ? i.chat_family : "none");
	size_t n = 0;
	e->types[0] = 0;
	for (uint32_t t = 0; t < INF_N_TYPES; t++)
		if (i.type_counts[t] && n < sizeof e->types)
			n += (size_t)snprintf(e->types + n, sizeof e->types - n, "%s%s", n ? "," : "",
					      inf_type_name(t));
	e->n_ctx_train = i.n_ctx_train;
	e->n_layer = i.n_layer;
	e->dim = i.dim;
	e->n_vocab = i.n_vocab;
	e->n_params = i.n_params;
	e->weight_bytes = i.weight_bytes;
	if (*i.tokenizer_error) {
		e->loadable = false;
		snprintf(e->reason, sizeof e->reason, "no usable tokenizer: %s", i.tokenizer_error);
	}
}

/* Reads what a file is without loading its weights (mapped, validated, not
 * touched or packed). */
static void inspect(struct scan_entry *e)
{
	struct inf_model_options opt = { .no_pack = true };
	struct inf_model *m;
	char err[INF_ERR_MAX];
	if (inf_model_load(e->path, &opt, &m, err)) {
		e->loadable = false;
		snprintf(e->reason, sizeof e->reason, "%s", err);
		return;
	}
	e->loadable = true;
	fill_info(e, m);
	inf_model_free(m);
}

static struct scan_entry *scan_add(struct infer_scan *sc, struct scan_entry ***tail, const char *path)
{
	struct scan_entry *e = calloc(1, sizeof *e);
	if (!e)
		return NULL;
	snprintf(e->path, sizeof e->path, "%s", path);
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	size_t len = strlen(base);
	if (len > 5 && !strcasecmp(base + len - 5, ".gguf"))
		len -= 5;
	snprintf(e->id, sizeof e->id, "%.*s", (int)(len < INFER_ID_MAX ? len : INFER_ID_MAX), base);
	/* a second file with a taken id is listed as ID~2 (~3, ...), with the reason */
	const struct scan_entry *first = NULL;
	unsigned same = 1;
	size_t k = strlen(e->id);
	for (struct scan_entry *o = sc->found; o; o = o->next)
		if (!strncmp(o->id, e->id, k) && (!o->id[k] || o->id[k] == '~')) {
			first = first ? first : o;
			same++;
		}
	if (first) {
		snprintf(e->reason, sizeof e->reason, "another model has the id \"%.100s\" (%.300s)",
			 e->id, first->path);
		snprintf(e->id + (k < INFER_ID_MAX - 12 ? k : INFER_ID_MAX - 12), 12, "~%u", same);
	}
	**tail = e;
	*tail = &e->next;
	return e;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void scan_work(uv_work_t *w)
{
	struct infer_scan *sc = w->data;
	struct scan_entry **tail = &sc->found;
	for (size_t i = 0; i < sc->n_paths; i++)
		scan_add(sc, &tail, sc->paths[i]);
	DIR *d = opendir(sc->dir);
	char **names = NULL;
	size_t n = 0, cap = 0;
	for (struct dirent *de; d && (de = readdir(d));) {
		size_t len = strlen(de->d_name);
		if (len <= 5 || strcasecmp(de->d_name + len - 5, ".gguf") || de->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **grown = realloc(names, (cap = cap ? 2 * cap : 16) * sizeof *names);
			if (!grown)
				break;
			names = grown;
		}
		if (!(names[n] = strdup(de->d_name)))
			break;
		n++;
	}
	if (d)
		closedir(d);
	if (n)
		qsort(names, n, sizeof *names, by_name);
	for (size_t i = 0; i < n; i++) {
		char path[RELAY_PATH_MAX];
		if (snprintf(path, sizeof path, "%s/%s", sc->dir, names[i]) < (int)sizeof path)
			scan_add(sc, &tail, path);
		free(names[i]);
	}
	free(names);
	for (struct scan_entry *e = sc->found; e; e = e->next) {
		struct stat st;
		if (*e->reason)
			continue;   /* a duplicate id */
		if (stat(e->path, &st)) {
			snprintf(e->reason, sizeof e->reason, "%.400s: %s", e->path, strerror(errno));
			continue;
		}
		if (!S_ISREG(st.st_mode)) {
			snprintf(e->reason, sizeof e->reason, "%.400s: not a regular file", e->path);
			continue;
		}
		e->file_bytes = (uint64_t)st.st_size;
		e->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
		for (struct scan_entry *k = sc->known; k; k = k->next)
			if (!strcmp(k->path, e->path) && k->file_bytes == e->file_bytes &&
			    k->mtime_ns == e->mtime_ns)
				e->known = true;
		if (!e->known)
			inspect(e);
	}
}

static struct infer_model *find_path(struct relay_infer *inf, const char *path)
{
	for (struct infer_model *m = inf->models; m; m = m->next)
		if (!strcmp(m->path, path))
			return m;
	return NULL;
}

static bool model_idle(const struct relay_infer *inf, const struct infer_model *m);

static void free_entries(struct scan_entry *e)
{
	while (e) {
		struct scan_entry *next = e->next;
		free(e);
		e = next;
	}
}

static void scan_done(uv_work_t *w, int status)
{
	struct infer_scan *sc = w->data;
	struct relay_infer *inf = sc->inf;
	(void)status;
	/* the new list: the scan's order, then what is loaded but gone */
	struct infer_model *list = NULL, **tail = &list;
	for (struct scan_entry *e = sc->found; e; e = e->next) {
		struct infer_model *m = find_path(inf, e->path);
		if (m) {
			for (struct infer_model **pp = &inf->models; *pp; pp = &(*pp)->next)
				if (*pp == m) {
					*pp = m->next;
					break;
				}
		} else if (!(m = calloc(1, sizeof *m))) {
			continue;
		} else {
			m->inf = inf;
		}
		m->next = NULL;
		m->present = true;
		if (!e->known && m->state == MODEL_UNLOADED) {
			snprintf(m->id, sizeof m->id, "%s", e->id);
			snprintf(m->path, sizeof m->path, "%s", e->path);
			m->file_bytes = e->file_bytes;
			m->mtime_ns = e->mtime_ns;
			m->loadable = !*e->reason && e->loadable;
			snprintf(m->reason, sizeof m->reason, "%s", e->reason);
			memcpy(m->arch, e->arch, sizeof m->arch);
			memcpy(m->name, e->name, sizeof m->name);
			memcpy(m->chat_family, e->chat_family, sizeof m->chat_family);
			memcpy(m->types, e->types, sizeof m->types);
			m->n_ctx_train = e->n_ctx_train;
			m->n_layer = e->n_layer;
			m->dim = e->dim;
			m->n_vocab = e->n_vocab;
			m->n_params = e->n_params;
			m->weight_bytes = e->weight_bytes;
		}
		*tail = m;
		tail = &m->next;
	}
	while (inf->models) {   /* not found this time */
		struct infer_model *m = inf->models;
		inf->models = m->next;
		m->next = NULL;
		if (m->state == MODEL_UNLOADED && !m->waits && !m->waiting && model_idle(inf, m)) {
			free(m);
			continue;
		}
		m->present = false;
		*tail = m;
		tail = &m->next;
	}
	inf->models = list;
	free_entries(sc->found);
	free_entries(sc->known);
	free(sc);
	inf->scan = NULL;
	if (inf->rescan && !inf->shutting_down) {
		inf->rescan = false;
		infer_scan_start(inf);
		return;   /* the waiters hear after the newer scan */
	}
	infer_list_answer(inf);
}

static struct infer_scan *make_scan(struct relay_infer *inf)
{
	struct infer_scan *sc = calloc(1, sizeof *sc);
	if (!sc)
		return NULL;
	sc->inf = inf;
	snprintf(sc->dir, sizeof sc->dir, "%s", inf->models_dir);
	sc->paths = inf->model_paths;   /* fixed for the module's life */
	sc->n_paths = inf->limits.n_model_paths;
	struct scan_entry **tail = &sc->known;
	for (struct infer_model *m = inf->models; m; m = m->next) {
		struct scan_entry *k = calloc(1, sizeof *k);
		if (!k)
			break;
		snprintf(k->path, sizeof k->path, "%s", m->path);
		k->file_bytes = m->file_bytes;
		k->mtime_ns = m->mtime_ns;
		*tail = k;
		tail = &k->next;
	}
	sc->work.data = sc;
	return sc;
}

void infer_scan_start(struct relay_infer *inf)
{
	if (inf->scan) {
		inf->rescan = true;
		return;
	}
	struct infer_scan *sc = make_scan(inf);
	if (!sc)
		return infer_list_answer(inf);
	inf->scan = sc;
	if (uv_queue_work(inf->loop, &sc->work, scan_work, scan_done)) {
		inf->scan = NULL;
		free_entries(sc->known);
		free(sc);
		infer_list_answer(inf);
	}
}

/* ---- loading ---- */

struct load_job {
	uv_work_t work;
	struct relay_infer *inf;
	struct infer_model *m;
	char path[RELAY_PATH_MAX];
	struct infer_engine_params p;
	uint64_t budget;                    /* bytes the module still allows (UINT64_MAX: any) */
	struct infer_engine *engine;        /* the result */
	uint64_t memory_bytes;
	int rc;
	const char *code;
	char err[INF_ERR_MAX];
	double ms;
};

static uint64_t mem_available(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	unsigned long long kb = 0;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb ? (uint64_t)kb * 1024 : UINT64_MAX;
}

static void on_load_progress(double fraction, void *arg)
{
	struct load_job *job = arg;
	uint64_t ppm = (uint64_t)(fraction * 1e6);
	uint64_t was = atomic_exchange(&job->m->progress_ppm, ppm);
	if (ppm / 10000 != was / 10000)   /* each whole percent */
		uv_async_send(&job->inf->progress);
}

static void load_work(uv_work_t *w)
{
	struct load_job *job = w->data;
	uint64_t t0 = uv_hrtime();
	struct inf_model_options opt = { .no_pack = true };
	struct inf_model *m;
	job->code = "model_load_failed";
	/* first the memory check, with the file mapped and not touched */
	if ((job->rc = inf_model_load(job->path, &opt, &m, job->err)))
		return;
	struct inf_model_info info;
	inf_model_get_info(m, &info);
	if (!job->p.n_ctx)
		job->p.n_ctx = info.n_ctx_train && info.n_ctx_train < 4096 ? info.n_ctx_train : 4096;
	uint64_t ctx_bytes = infer_engine_context_bytes(m, &job->p);
	inf_model_free(m);
	uint64_t need = info.weight_bytes + ctx_bytes, avail = mem_available();
	uint64_t limit = avail < job->budget ? avail : job->budget;
	if (need > limit) {
		job->rc = INF_ENOMEM;
		job->code = "insufficient_memory";
		snprintf(job->err, sizeof job->err,
			 "needs %.0f MiB (weights %.0f MiB, KV cache and scratch %.0f MiB for %u slots of "
			 "n_ctx %u), but %.0f MiB %s", need / MiB, info.weight_bytes / MiB,
			 ctx_bytes / MiB, job->p.n_slots, job->p.n_ctx, limit / MiB,
			 limit == avail ? "is available (MemAvailable)" :
			 "is left under infer_max_memory_mb");
		return;
	}
	opt = (struct inf_model_options){ .prefault = true, .progress = on_load_progress,
					  .progress_user = job };
	if ((job->rc = inf_model_load(job->path, &opt, &m, job->err)))
		return;
	if ((job->rc = infer_engine_create(m, &job->p, &job->engine, job->err))) {
		job->code = job->rc == INF_ECONTEXT ? "context_exceeded" : "model_load_failed";
		return;
	}
	job->memory_bytes = need;
	job->ms = (double)(uv_hrtime() - t0) / 1e6;
}

static void start_pending_loads(struct relay_infer *inf);

static void load_done(uv_work_t *w, int status)
{
	struct load_job *job = w->data;
	struct relay_infer *inf = job->inf;
	struct infer_model *m = job->m;
	char err[INF_ERR_MAX];
	(void)status;
	inf->loads_running--;
	if (!job->rc && (inf->shutting_down ||
			 infer_engine_run(job->engine, inf->loop, infer_pump, m, err))) {
		if (inf->shutting_down)
			infer_engine_discard(job->engine);
		job->rc = INF_ENOMEM;
		job->code = "model_load_failed";
		snprintf(job->err, sizeof job->err, "%s", inf->shutting_down ? "tetherd is stopping" : err);
	}
	if (job->rc) {
		m->state = MODEL_UNLOADED;
		relay_log(RELAY_LOG_WARN, "infer: loading %s failed: %s", m->id, job->err);
		infer_load_done(inf, m, job->rc, job->code, job->err);
	} else {
		m->state = MODEL_LOADED;
		m->engine = job->engine;
		m->params = job->p;
		infer_engine_settings(m->engine, &m->params, &(enum inf_isa){ 0 });
		m->memory_bytes = job->memory_bytes;
		m->loaded_at_ms = m->last_used_ms = relay_now_ms();
		relay_log(RELAY_LOG_INFO, "infer: loaded %s in %.0f ms (%.0f MiB, %u slots of n_ctx %u)",
			  m->id, job->ms, m->memory_bytes / MiB, m->params.n_slots, m->params.n_ctx);
		if (m->progress_sent_ppm < 1000000)   /* the async coalesced the last percents */
			infer_load_progress(inf, m, 1);
		infer_load_done(inf, m, 0, NULL, NULL);
	}
	free(job);
	infer_changed(inf);
	start_pending_loads(inf);
}

static uint64_t loaded_bytes(const struct relay_infer *inf)
{
	uint64_t sum = 0;
	for (const struct infer_model *m = inf->models; m; m = m->next)
		if (m->state == MODEL_LOADED || m->state == MODEL_UNLOADING)
			sum += m->memory_bytes;
	return sum;
}

static size_t count_state(const struct relay_infer *inf, enum infer_model_state s)
{
	size_t n = 0;
	for (const struct infer_model *m = inf->models; m; m = m->next)
		n += m->state == s;
	return n;
}

static bool model_idle(const struct relay_infer *inf, const struct infer_model *m)
{
	for (const struct infer_stream *st = inf->streams; st; st = st->next)
		if (st->model == m)
			return false;
	return !m->waiting && !m->waits;
}

/* Starts the job, or leaves the model waiting (loading, no job) while
 * infer_max_loaded models are loaded: the least recently used idle one is
 * unloaded to make room, and the load starts once it is gone. */
static void try_start(struct relay_infer *inf, struct infer_model *m)
{
	size_t busy = count_state(inf, MODEL_LOADED) + count_state(inf, MODEL_UNLOADING) +
		      (size_t)inf->loads_running;
	m->awaiting_room = false;
	if (busy >= (size_t)inf->limits.max_loaded) {
		struct infer_model *victim = NULL;
		m->awaiting_room = true;
		for (struct infer_model *o = inf->models; o; o = o->next)
			if (o->state == MODEL_LOADED && model_idle(inf, o) &&
			    (!victim || o->last_used_ms < victim->last_used_ms))
				victim = o;
		if (victim) {
			relay_log(RELAY_LOG_INFO, "infer: unloading %s to make room for %s",
				  victim->id, m->id);
			infer_model_unload(inf, victim);
		} else if (!count_state(inf, MODEL_UNLOADING) && !inf->loads_running) {
			char why[INF_ERR_MAX];
			snprintf(why, sizeof why, "infer_max_loaded (%ld) models are loaded and busy; "
				 "unload one or wait", inf->limits.max_loaded);
			m->state = MODEL_UNLOADED;
			m->awaiting_room = false;
			infer_load_done(inf, m, INF_EINVAL, "too_many_models", why);
		}
		return;
	}
	struct load_job *job = calloc(1, sizeof *job);
	if (!job) {
		m->state = MODEL_UNLOADED;
		infer_load_done(inf, m, INF_ENOMEM, "model_load_failed", "out of memory");
		return;
	}
	job->inf = inf;
	job->m = m;
	snprintf(job->path, sizeof job->path, "%s", m->path);
	job->p = m->params;
	uint64_t used = loaded_bytes(inf), max = (uint64_t)inf->limits.max_memory_mb << 20;
	job->budget = !max ? UINT64_MAX : used < max ? max - used : 0;
	job->work.data = job;
	atomic_store(&m->progress_ppm, 0);
	m->progress_sent_ppm = 0;
	inf->loads_running++;
	if (uv_queue_work(inf->loop, &job->work, load_work, load_done)) {
		inf->loads_running--;
		free(job);
		m->state = MODEL_UNLOADED;
		infer_load_done(inf, m, INF_ENOMEM, "model_load_failed", "uv_queue_work failed");
		return;
	}
	/* the load has begun: 0, then each whole percent (coalesced) up to 1 */
	infer_load_progress(inf, m, 0);
}

/* Loads that wait for room (state loading, no job yet). */
static void start_pending_loads(struct relay_infer *inf)
{
	for (struct infer_model *m = inf->models; m && !inf->shutting_down; m = m->next)
		if (m->state == MODEL_LOADING && m->awaiting_room) {
			try_start(inf, m);
			return;
		}
}

void infer_model_load(struct relay_infer *inf, struct infer_model *m, const struct infer_engine_params *p)
{
	if (m->state != MODEL_UNLOADED)
		return;   /* the waiter joins the load running */
	m->state = MODEL_LOADING;
	m->params = *p;
	atomic_store(&m->progress_ppm, UINT64_MAX);   /* no job yet */
	infer_changed(inf);
	try_start(inf, m);
}

void infer_default_params(const struct relay_infer *inf, struct infer_engine_params *p)
{
	*p = (struct infer_engine_params){
		.n_slots = (uint32_t)inf->limits.parallel,
		.n_ctx = (uint32_t)inf->limits.ctx,
		.n_threads = (uint32_t)inf->limits.threads,
		.queue = inf->limits.queue,
		.kv_type = INF_KV_F16,
	};
}

static void engine_freed(void *arg)
{
	struct infer_model *m = arg;
	struct relay_infer *inf = m->inf;
	m->state = MODEL_UNLOADED;
	m->engine = NULL;
	m->memory_bytes = 0;
	relay_log(RELAY_LOG_INFO, "infer: unloaded %s", m->id);
	infer_changed(inf);
	start_pending_loads(inf);
}

/* The engine's thread has ended (after an unload): free it. */
void infer_engine_gone(struct infer_model *m)
{
	infer_engine_free(m->engine, engine_freed, m);
}

int infer_model_unload(struct relay_infer *inf, struct infer_model *m)
{
	if (m->state != MODEL_LOADED)
		return -ENOENT;
	if (!model_idle(inf, m) && !inf->shutting_down)
		return -EBUSY;
	m->state = MODEL_UNLOADING;
	infer_engine_stop(m->engine);
	infer_changed(inf);
	return 0;
}

/* ---- keep_alive ---- */

static void on_keep_alive(uv_timer_t *t);

static void schedule_keep_alive(struct relay_infer *inf)
{
	if (inf->limits.keep_alive_s < 0 || inf->shutting_down)
		return;
	uint64_t now = relay_now_ms(), next = UINT64_MAX;
	for (struct infer_model *m = inf->models; m; m = m->next)
		if (m->state == MODEL_LOADED && model_idle(inf, m)) {
			uint64_t at = m->last_used_ms + (uint64_t)inf->limits.keep_alive_s * 1000;
			if (at < next)
				next = at;
		}
	if (next == UINT64_MAX)
		uv_timer_stop(&inf->keep_alive);
	else
		uv_timer_start(&inf->keep_alive, on_keep_alive, next > now ? next - now : 0, 0);
}

static void on_keep_alive(uv_timer_t *t)
{
	struct relay_infer *inf = t->data;
	uint64_t now = relay_now_ms();
	for (struct infer_model *m = inf->models; m; m = m->next)
		if (m->state == MODEL_LOADED && model_idle(inf, m) &&
		    now >= m->last_used_ms + (uint64_t)inf->limits.keep_alive_s * 1000) {
			relay_log(RELAY_LOG_INFO, "infer: %s was idle for keep_alive_s (%ld s): unloading",
				  m->id, inf->limits.keep_alive_s);
			infer_model_unload(inf, m);
		}
	schedule_keep_alive(inf);
}

void infer_changed(struct relay_infer *inf)
{
	schedule_keep_alive(inf);
	if (inf->changed)
		inf->changed(inf->changed_arg);
}

/* ---- progress from the loaders ---- */

static void on_progress(uv_async_t *a)
{
	struct relay_infer *inf = a->data;
	for (struct infer_model *m = inf->models; m; m = m->next) {
		uint64_t ppm = atomic_load(&m->progress_ppm);
		if (m->state != MODEL_LOADING || ppm == UINT64_MAX || ppm / 10000 == m->progress_sent_ppm / 10000)
			continue;
		m->progress_sent_ppm = ppm;
		infer_load_progress(inf, m, (double)ppm / 1e6);
	}
}

/* ---- what it says of itself ---- */

struct infer_model *infer_model_find(struct relay_infer *inf, const char *id)
{
	for (struct infer_model *m = inf->models; m; m = m->next)
		if (!strcmp(m->id, id))
			return m;
	return NULL;
}

static const char *state_name(enum infer_model_state s)
{
	return s == MODEL_LOADED ? "loaded" : s == MODEL_LOADING ? "loading" :
	       s == MODEL_UNLOADING ? "unloading" : "unloaded";
}

/* Windows drives are mounted over 9P: reading a model there is slow. */
static bool on_windows_drive(const char *path)
{
	return !strncmp(path, "/mnt/", 5) && path[5] && (path[6] == '/' || !path[6]);
}

cJSON *infer_model_json(const struct relay_infer *inf, const struct infer_model *m)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "id", m->id);
	cJSON_AddStringToObject(o, "file", m->path);
	cJSON_AddNumberToObject(o, "size", (double)m->file_bytes);
	cJSON_AddStringToObject(o, "state", state_name(m->state));
	cJSON_AddBoolToObject(o, "loaded", m->state == MODEL_LOADED);
	cJSON_AddBoolToObject(o, "loadable", m->loadable);
	if (!m->present)
		cJSON_AddStringToObject(o, "note", "the file is gone; the model stays until it is unloaded");
	else if (on_windows_drive(m->path))
		cJSON_AddStringToObject(o, "note", "on a Windows drive (/mnt/..., 9P): it loads slowly; "
					"a copy under the distro's own filesystem loads many times faster");
	if (!m->loadable) {
		cJSON_AddStringToObject(o, "reason", m->reason);
		return o;
	}
	cJSON_AddStringToObject(o, "architecture", m->arch);
	cJSON_AddStringToObject(o, "name", m->name);
	cJSON *types = cJSON_AddArrayToObject(o, "quantization");
	char t[sizeof m->types];
	memcpy(t, m->types, sizeof t);
	for (char *save, *tok = strtok_r(t, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		cJSON_AddItemToArray(types, cJSON_CreateString(tok));
	cJSON_AddNumberToObject(o, "parameters", (double)m->n_params);
	cJSON_AddNumberToObject(o, "context_trained", m->n_ctx_train);
	cJSON_AddStringToObject(o, "chat_template", m->chat_family);
	if (m->state == MODEL_LOADED || m->state == MODEL_UNLOADING || m->state == MODEL_LOADING) {
		const struct infer_engine_params *p = &m->params;
		cJSON_AddNumberToObject(o, "n_ctx", p->n_ctx);
		cJSON_AddNumberToObject(o, "slots", p->n_slots);
		cJSON_AddStringToObject(o, "kv_type", inf_kv_type_name(p->kv_type));
	}
	if (m->state == MODEL_LOADING && atomic_load(&((struct infer_model *)m)->progress_ppm) != UINT64_MAX)
		cJSON_AddNumberToObject(o, "progress", (double)atomic_load(&((struct infer_model *)m)->progress_ppm) / 1e6);
	if (m->state == MODEL_LOADED) {
		struct infer_engine_params p;
		enum inf_isa isa;
		size_t active, pending;
		infer_engine_settings(m->engine, &p, &isa);
		infer_engine_counts(m->engine, &active, &pending);
		cJSON *b = cJSON_AddObjectToObject(o, "backend");
		cJSON_AddStringToObject(b, "name", "cpu");
		cJSON_AddStringToObject(b, "isa", inf_isa_name(isa));
		cJSON_AddNumberToObject(o, "threads", p.n_threads);
		cJSON_AddNumberToObject(o, "memory_bytes", (double)m->memory_bytes);
		cJSON_AddNumberToObject(o, "streams_active", (double)active);
		cJSON_AddNumberToObject(o, "streams_queued", (double)pending);
		bool idle = model_idle(inf, m);
		if (inf->limits.keep_alive_s < 0)
			cJSON_AddNullToObject(o, "unload_in_s");
		else
			cJSON_AddNumberToObject(o, "unload_in_s", !idle ? (double)inf->limits.keep_alive_s :
				(double)((int64_t)(m->last_used_ms + (uint64_t)inf->limits.keep_alive_s * 1000) -
					 (int64_t)relay_now_ms()) / 1e3);
		cJSON_AddBoolToObject(o, "idle", idle);
	}
	return o;
}

static cJSON *infer_capability(struct relay_module *mod)
{
	struct relay_infer *inf = relay_container_of(mod, struct relay_infer, module);
	cJSON *o = cJSON_CreateObject();
	size_t known = 0;
	for (struct infer_model *m = inf->models; m; m = m->next)
		known++;
	cJSON_AddNumberToObject(o, "parallel", (double)inf->limits.parallel);
	cJSON_AddNumberToObject(o, "queue", (double)inf->limits.queue);
	cJSON_AddNumberToObject(o, "max_loaded", (double)inf->limits.max_loaded);
	cJSON_AddNumberToObject(o, "max_streams", (double)(inf->limits.parallel * inf->limits.max_loaded));
	cJSON_AddNumberToObject(o, "max_context", inf->limits.ctx ? (double)inf->limits.ctx : 4096);
	cJSON_AddNumberToObject(o, "models_known", (double)known);
	cJSON_AddNumberToObject(o, "models_loaded", (double)count_state(inf, MODEL_LOADED));
	return o;
}

static void infer_status(struct relay_module *mod, cJSON *status)
{
	struct relay_infer *inf = relay_container_of(mod, struct relay_infer, module);
	cJSON *o = cJSON_AddObjectToObject(status, "inference");
	cJSON_AddStringToObject(o, "models_dir", inf->models_dir);
	size_t known = 0;
	cJSON *loaded = cJSON_AddArrayToObject(o, "loaded");
	for (struct infer_model *m = inf->models; m; m = m->next) {
		known++;
		if (m->state != MODEL_UNLOADED)
			cJSON_AddItemToArray(loaded, infer_model_json(inf, m));
	}
	cJSON_AddNumberToObject(o, "models_known", (double)known);
	if (!known)
		cJSON_AddStringToObject(o, "hint", "no models: put a GGUF file in models_dir (or pass "
					"--model PATH); `tether models` lists what tetherd finds");
	cJSON *streams = cJSON_AddArrayToObject(o, "streams");
	for (struct infer_stream *st = inf->streams; st; st = st->next) {
		cJSON *s = cJSON_CreateObject();
		const char *state = "loading";
		size_t generated = 0;
		if (st->submitted && st->model->engine)
			infer_engine_stream_state(st->model->engine, st, &state, &generated);
		cJSON_AddNumberToObject(s, "stream", (double)st->id);
		cJSON_AddStringToObject(s, "model", st->model->id);
		cJSON_AddStringToObject(s, "state", state);
		cJSON_AddNumberToObject(s, "generated", (double)generated);
		cJSON_AddNumberToObject(s, "connection", st->orphaned ? 0 : (double)st->chan.conn->id);
		cJSON_AddItemToArray(streams, s);
	}
}

static void infer_summary(struct relay_module *mod, char *buf, size_t len)
{
	struct relay_infer *inf = relay_container_of(mod, struct relay_infer, module);
	size_t streams = 0;
	for (struct infer_stream *st = inf->streams; st; st = st->next)
		streams++;
	size_t loaded = count_state(inf, MODEL_LOADED);
	if (loaded || streams)
		snprintf(buf, len, "%zu model%s loaded, %zu stream%s", loaded, loaded == 1 ? "" : "s",
			 streams, streams == 1 ? "" : "s");
	else
		*buf = 0;
}

static int infer_start(struct relay_module *mod, char err[RELAY_ERR_MAX])
{
	struct relay_infer *inf = relay_container_of(mod, struct relay_infer, module);
	(void)err;
	/* The first scan before the first request, so that a model named right
	 * after start is found: the files' headers only (no weights are read). */
	struct infer_scan *sc = make_scan(inf);
	if (sc) {
		inf->scan = sc;
		scan_work(&sc->work);
		scan_done(&sc->work, 0);
	}
	return 0;
}

static void handle_closed(uv_handle_t *h)
{
	struct relay_infer *inf = h->data;
	inf->open_handles--;
}

static void infer_shutdown(struct relay_module *mod)
{
	struct relay_infer *inf = relay_container_of(mod, struct relay_infer, module);
	inf->shutting_down = true;
	for (struct infer_model *m = inf->models; m; m = m->next)
		if (m->state == MODEL_LOADED)
			infer_model_unload(inf, m);
	uv_close((uv_handle_t *)&inf->keep_alive, handle_closed);
	uv_close((uv_handle_t *)&inf->progress, handle_closed);
}

static bool infer_stopped(struct relay_module *mod)
{
	struct relay_infer *inf = relay_container_of(mod, struct relay_infer, module);
	if (inf->open_handles || inf->scan || inf->loads_running || inf->streams)
		return false;
	for (struct infer_model *m = inf->models; m; m = m->next)
		if (m->state == MODEL_LOADED || m->state == MODEL_UNLOADING)
			return false;
	return true;
}

static void infer_free(struct relay_module *mod)
{
	struct relay_infer *inf = relay_container_of(mod, struct relay_infer, module);
	infer_list_answer(inf);   /* frees the waits: their connections are gone */
	while (inf->models) {
		struct infer_model *m = inf->models;
		inf->models = m->next;
		infer_load_done(inf, m, INF_EINVAL, "internal", "tetherd stopped");
		free(m);
	}
	free(inf->model_paths);
	free(inf);
}

static const struct relay_module_ops infer_module_ops = {
	.name = "infer",
	.start = infer_start,
	.capability = infer_capability,
	.status = infer_status,
	.summary = infer_summary,
	.shutdown = infer_shutdown,
	.stopped = infer_stopped,
	.free = infer_free,
	.routes = infer_http_routes,
};

int relay_infer_new(uv_loop_t *loop, const struct relay_infer_limits *limits,
		    void (*changed)(void *arg), void *arg, struct relay_module **out)
{
	struct relay_infer *inf = calloc(1, sizeof *inf);
	if (!inf)
		return -ENOMEM;
	inf->module.ops = &infer_module_ops;
	inf->loop = loop;
	inf->limits = *limits;
	snprintf(inf->models_dir, sizeof inf->models_dir, "%s", limits->models_dir);
	inf->limits.models_dir = inf->models_dir;
	inf->model_paths = calloc(limits->n_model_paths + 1, sizeof *inf->model_paths);
	if (!inf->model_paths) {
		free(inf);
		return -ENOMEM;
	}
	for (size_t i = 0; i < limits->n_model_paths; i++)
		snprintf(inf->model_paths[i], sizeof inf->model_paths[i], "%s", limits->model_paths[i]);
	inf->limits.model_paths = NULL;
	inf->changed = changed;
	inf->changed_arg = arg;
	infer_http_init(inf);
	uv_timer_init(loop, &inf->keep_alive);
	uv_async_init(loop, &inf->progress, on_progress);
	inf->keep_alive.data = inf->progress.data = inf;
	inf->open_handles = 2;
	*out = &inf->module;
	return 0;
}
