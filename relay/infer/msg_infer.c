/* The inference requests (docs/protocol.md, "Inference"): validation here,
 * the streams' channels and the pump that moves their events to the
 * connections under flow control. The models are infer.c's, the
 * generation engine.c's. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "infer_internal.h"

#define PROMPT_MAX_BYTES (16u << 20)

static struct relay_infer *module_of(struct relay_module *m)
{
	return relay_container_of(m, struct relay_infer, module);
}

/* ---- waiting replies: infer.models for a scan, infer.load for a load ---- */

struct infer_list_wait {
	struct relay_chan chan;             /* no id: only to hear when the connection goes */
	struct infer_list_wait *next;
	cJSON *id;
};

struct infer_load_wait {
	struct relay_chan chan;
	struct infer_load_wait *next;
	struct infer_model *m;
	cJSON *id;
};

static void list_wait_gone(struct relay_chan *ch)
{
	struct infer_list_wait *w = relay_container_of(ch, struct infer_list_wait, chan);
	relay_chan_remove(ch);
	w->chan.conn = NULL;   /* answered later with nobody to tell */
}

static const struct relay_chan_ops list_wait_ops = { .kind = "infer.models", .gone = list_wait_gone };

static void load_wait_gone(struct relay_chan *ch)
{
	struct infer_load_wait *w = relay_container_of(ch, struct infer_load_wait, chan);
	relay_chan_remove(ch);
	w->chan.conn = NULL;
}

static const struct relay_chan_ops load_wait_ops = { .kind = "infer.load", .gone = load_wait_gone };

void infer_list_answer(struct relay_infer *inf)
{
	struct infer_list_wait *w = inf->list_waits;
	inf->list_waits = NULL;
	while (w) {
		struct infer_list_wait *next = w->next;
		if (w->chan.conn) {
			cJSON *reply = relay_proto_reply("infer.models", w->id), *list;
			list = cJSON_AddArrayToObject(reply, "models");
			for (struct infer_model *m = inf->models; m; m = m->next)
				cJSON_AddItemToArray(list, infer_model_json(inf, m));
			cJSON_AddStringToObject(reply, "models_dir", inf->models_dir);
			if (!inf->models)
				cJSON_AddStringToObject(reply, "hint", "no models yet: put a GGUF file in "
							"models_dir, or start tetherd with --model PATH");
			relay_conn_send_json(w->chan.conn, reply);
			relay_chan_remove(&w->chan);
		}
		cJSON_Delete(w->id);
		free(w);
		w = next;
	}
}

static cJSON *load_reply(const cJSON *id, const struct infer_model *m)
{
	cJSON *reply = relay_proto_reply("infer.load", id);
	struct infer_engine_params p;
	enum inf_isa isa;
	infer_engine_settings(m->engine, &p, &isa);
	cJSON_AddStringToObject(reply, "model", m->id);
	cJSON_AddBoolToObject(reply, "loaded", true);
	cJSON_AddNumberToObject(reply, "n_ctx", p.n_ctx);
	cJSON_AddNumberToObject(reply, "slots", p.n_slots);
	cJSON_AddNumberToObject(reply, "threads", p.n_threads);
	cJSON_AddStringToObject(reply, "kv_type", inf_kv_type_name(p.kv_type));
	cJSON_AddStringToObject(reply, "backend", "cpu");
	cJSON_AddStringToObject(reply, "isa", inf_isa_name(isa));
	cJSON_AddNumberToObject(reply, "memory_bytes", (double)m->memory_bytes);
	return reply;
}

static void submit(struct infer_stream *st);

void infer_load_done(struct relay_infer *inf, struct infer_model *m, int rc, const char *code,
		     const char *err)
{
	struct infer_load_wait *w = m->waits;
	m->waits = NULL;
	while (w) {
		struct infer_load_wait *next = w->next;
		if (w->chan.conn) {
			if (rc)
				relay_proto_error(w->chan.conn, w->id, code, "model", "infer.load",
						  "%s: %s", m->id, err);
			else
				relay_conn_send_json(w->chan.conn, load_reply(w->id, m));
			relay_chan_remove(&w->chan);
		}
		cJSON_Delete(w->id);
		free(w);
		w = next;
	}
	struct infer_stream *st = m->waiting;
	m->waiting = NULL;
	while (st) {
		struct infer_stream *next = st->next_waiting;
		st->next_waiting = NULL;
		if (rc)
			infer_stream_fail(st, code, "%s: %s", m->id, err);
		else
			submit(st);
		st = next;
	}
	(void)inf;
}

void infer_load_progress(struct relay_infer *inf, struct infer_model *m, double fraction)
{
	cJSON *ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "type", "infer.progress");
	cJSON_AddStringToObject(ev, "model", m->id);
	cJSON_AddNumberToObject(ev, "fraction", fraction);
	cJSON_AddNumberToObject(ev, "bytes", (double)(uint64_t)(fraction * (double)m->weight_bytes));
	cJSON_AddNumberToObject(ev, "total_bytes", (double)m->weight_bytes);
	char *text = cJSON_PrintUnformatted(ev);
	cJSON_Delete(ev);
	if (!text)
		return;
	/* each connection once, however many of its requests wait */
	struct relay_conn *told[64];
	size_t n_told = 0;
	for (struct infer_load_wait *w = m->waits; w; w = w->next)
		if (w->chan.conn && n_told < 64) {
			bool seen = false;
			for (size_t i = 0; i < n_told; i++)
				seen |= told[i] == w->chan.conn;
			if (!seen)
				relay_conn_send(told[n_told++] = w->chan.conn, RELAY_FRAME_TEXT, text, strlen(text));
		}
	for (struct infer_stream *st = m->waiting; st; st = st->next_waiting)
		if (!st->orphaned && n_told < 64) {
			bool seen = false;
			for (size_t i = 0; i < n_told; i++)
				seen |= told[i] == st->chan.conn;
			if (!seen)
				relay_conn_send(told[n_told++] = st->chan.conn, RELAY_FRAME_TEXT, text, strlen(text));
		}
	cJSON_free(text);
	(void)inf;
}

/* ---- streams ---- */

static void stream_free(struct infer_stream *st)
{
	struct relay_infer *inf = st->mod;
	for (struct infer_stream **pp = &inf->streams; *pp; pp = &(*pp)->next)
		if (*pp == st) {
			*pp = st->next;
			break;
		}
	if (!st->orphaned)
		relay_chan_remove(&st->chan);
	st->model->last_used_ms = relay_now_ms();
	infer_request_free(&st->req);
	free(st->ids);
	free(st);
	infer_changed(inf);
}

/* Moves st's events to its connection while the connection has room; the
 * done event ends the stream on the loop too. */
static void pump_stream(struct infer_engine *e, struct infer_stream *st)
{
	for (;;) {
		if (!st->orphaned && relay_conn_full(st->chan.conn))
			return;   /* its drained comes back here */
		size_t len = 0;
		bool last;
		char *ev = infer_engine_pop(e, st, &len, &last);
		if (ev && !st->orphaned)
			relay_conn_send(st->chan.conn, RELAY_FRAME_TEXT, ev, len);
		free(ev);
		if (last) {
			stream_free(st);
			return;
		}
		if (!ev)
			return;
	}
}

void infer_pump(void *arg)
{
	struct infer_model *m = arg;
	struct infer_engine *e = m->engine;
	for (struct infer_stream *st; (st = infer_engine_next_dirty(e));)
		pump_stream(e, st);
	if (m->state == MODEL_UNLOADING && infer_engine_stopped(e))
		infer_engine_gone(m);
}

/* An error for a stream that never reached the engine: one done event. */
void infer_stream_fail(struct infer_stream *st, const char *code, const char *fmt, ...)
{
	char msg[INF_ERR_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (!st->orphaned) {
		cJSON *ev = cJSON_CreateObject(), *er;
		cJSON_AddStringToObject(ev, "type", "infer.done");
		cJSON_AddNumberToObject(ev, "stream", (double)st->id);
		cJSON_AddStringToObject(ev, "model", st->model->id);
		cJSON_AddStringToObject(ev, "stop_reason", strcmp(code, "cancelled") ? "error" : "cancelled");
		if (strcmp(code, "cancelled")) {
			er = cJSON_AddObjectToObject(ev, "error");
			cJSON_AddStringToObject(er, "code", code);
			cJSON_AddStringToObject(er, "message", msg);
		}
		relay_conn_send_json(st->chan.conn, ev);
	}
	stream_free(st);
}

static void submit(struct infer_stream *st)
{
	struct infer_model *m = st->model;
	if (st->orphaned) {
		stream_free(st);
		return;
	}
	if (infer_engine_submit(m->engine, st)) {
		infer_stream_fail(st, "too_many_streams", "%s: all %u slots are busy and %ld requests "
				  "wait already (infer_parallel, infer_queue)", m->id, m->params.n_slots,
				  m->params.queue);
		return;
	}
	st->submitted = true;
}

static void stream_gone(struct relay_chan *ch)
{
	struct infer_stream *st = relay_container_of(ch, struct infer_stream, chan);
	relay_chan_remove(ch);
	st->orphaned = true;
	if (st->submitted) {
		infer_engine_cancel(st->model->engine, st);   /* its done event frees it */
		return;
	}
	for (struct infer_stream **pp = &st->model->waiting; *pp; pp = &(*pp)->next_waiting)
		if (*pp == st) {
			*pp = st->next_waiting;
			break;
		}
	stream_free(st);
}

static void stream_drained(struct relay_chan *ch)
{
	struct infer_stream *st = relay_container_of(ch, struct infer_stream, chan);
	if (st->submitted)
		pump_stream(st->model->engine, st);
}

static const struct relay_chan_ops stream_ops = {
	.kind = "infer",
	.drained = stream_drained,
	.gone = stream_gone,
};

/* ---- request members ---- */

/* The model named by "model" (required, known, loadable). */
static struct infer_model *model_field(struct relay_infer *inf, struct relay_conn *c, const cJSON *req,
				       const cJSON *id, const char *type)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, "model");
	if (!v) {
		relay_proto_error(c, id, "missing_field", "model", type, "\"%s\" needs \"model\" "
				  "(infer.models lists them)", type);
		return NULL;
	}
	if (!cJSON_IsString(v)) {
		relay_proto_error(c, id, "invalid_field", "model", type, "\"model\" must be a string");
		return NULL;
	}
	struct infer_model *m = infer_model_find(inf, v->valuestring);
	if (!m)
		relay_proto_error(c, id, "model_not_found", "model", type, "no model \"%.*s\" (in %s or "
				  "--model; infer.models lists them)", relay_utf8_prefix(v->valuestring, 100),
				  v->valuestring, inf->models_dir);
	else if (!m->loadable)
		relay_proto_error(c, id, "model_load_failed", "model", type, "%s: %s", m->id, m->reason);
	return m && m->loadable ? m : NULL;
}

/* The load settings a request may give (infer.load, and a generate that
 * loads its model): ctx, slots, threads, kv_type, backend. */
static bool load_fields(struct relay_infer *inf, struct relay_conn *c, const cJSON *req, const cJSON *id,
			const char *type, struct infer_engine_params *p)
{
	double ctx = (double)p->n_ctx, slots = p->n_slots, threads = p->n_threads;
	const char *kv = NULL, *backend = NULL;
	if (!relay_proto_int_field(c, req, id, type, "ctx", 0, 1 << 20, &ctx) ||
	    !relay_proto_int_field(c, req, id, type, "slots", 1, INFER_MAX_SLOTS, &slots) ||
	    !relay_proto_int_field(c, req, id, type, "threads", 0, 256, &threads) ||
	    !relay_proto_string_field(c, req, id, type, "kv_type", 8, false, &kv) ||
	    !relay_proto_string_field(c, req, id, type, "backend", 16, false, &backend))
		return false;
	if (kv && strcmp(kv, "f16") && strcmp(kv, "f32")) {
		relay_proto_error(c, id, "invalid_field", "kv_type", type, "\"kv_type\" must be \"f16\" or \"f32\"");
		return false;
	}
	if (backend && strcmp(backend, "cpu") && strcmp(backend, "auto")) {
		relay_proto_error(c, id, "invalid_field", "backend", type, "\"backend\" must be \"auto\" or "
				  "\"cpu\"%s", !strcmp(backend, "cuda") ? " (cuda is not built into this tetherd)" : "");
		return false;
	}
	p->n_ctx = (uint32_t)ctx;
	p->n_slots = (uint32_t)slots;
	p->n_threads = (uint32_t)threads;
	if (kv)
		p->kv_type = strcmp(kv, "f32") ? INF_KV_F16 : INF_KV_F32;
	(void)inf;
	return true;
}

static bool load_fields_given(const cJSON *req)
{
	static const char *const names[] = { "ctx", "slots", "threads", "kv_type", "backend" };
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (cJSON_GetObjectItemCaseSensitive(req, names[i]))
			return true;
	return false;
}

/* A load with other settings than the model has (or is getting). */
static bool settings_differ(const struct infer_model *m, const struct infer_engine_params *p)
{
	return (p->n_ctx && p->n_ctx != m->params.n_ctx) || p->n_slots != m->params.n_slots ||
	       (p->n_threads && p->n_threads != m->params.n_threads) || p->kv_type != m->params.kv_type;
}

static void msg_models(struct relay_module *mod, struct relay_conn *c, const cJSON *req,
		       const cJSON *id)
{
	struct relay_infer *inf = module_of(mod);
	struct infer_list_wait *w = calloc(1, sizeof *w);
	(void)req;
	if (!w || !(w->id = relay_proto_id(id))) {
		free(w);
		relay_proto_error(c, id, "internal", NULL, "infer.models", "out of memory");
		return;
	}
	relay_chan_add(c, &w->chan, &list_wait_ops, false);
	w->next = inf->list_waits;
	inf->list_waits = w;
	infer_scan_start(inf);   /* re-read: a model copied in a moment ago is there */
}

static const char *const no_fields[] = { NULL };
const struct relay_msg relay_msg_infer_models = { "infer.models", "infer", no_fields, msg_models };

static void msg_load(struct relay_module *mod, struct relay_conn *c, const cJSON *req,
		     const cJSON *id)
{
	struct relay_infer *inf = module_of(mod);
	struct infer_model *m = model_field(inf, c, req, id, "infer.load");
	struct infer_engine_params p;
	infer_default_params(inf, &p);
	if (!m || !load_fields(inf, c, req, id, "infer.load", &p))
		return;
	if (m->state != MODEL_UNLOADED && settings_differ(m, &p)) {
		relay_proto_error(c, id, "model_busy", "model", "infer.load", "%s is %s with n_ctx %u, "
				  "%u slots, kv_type %s: unload it first to change them", m->id,
				  m->state == MODEL_LOADED ? "loaded" : "being loaded or unloaded",
				  m->params.n_ctx, m->params.n_slots, inf_kv_type_name(m->params.kv_type));
		return;
	}
	if (m->state == MODEL_LOADED) {
		m->last_used_ms = relay_now_ms();
		infer_changed(inf);
		relay_conn_send_json(c, load_reply(id, m));
		return;
	}
	if (m->state == MODEL_UNLOADING) {
		relay_proto_error(c, id, "model_busy", "model", "infer.load", "%s is being unloaded; "
				  "load it again in a moment", m->id);
		return;
	}
	struct infer_load_wait *w = calloc(1, sizeof *w);
	if (!w || !(w->id = relay_proto_id(id))) {
		free(w);
		relay_proto_error(c, id, "internal", NULL, "infer.load", "out of memory");
		return;
	}
	w->m = m;
	relay_chan_add(c, &w->chan, &load_wait_ops, false);
	w->next = m->waits;
	m->waits = w;
	infer_model_load(inf, m, &p);   /* or joins the load running */
}

static const char *const load_fields_names[] = { "model", "ctx", "slots", "threads", "kv_type", "backend",
						 NULL };
const struct relay_msg relay_msg_infer_load = { "infer.load", "infer", load_fields_names, msg_load };

static void msg_unload(struct relay_module *mod, struct relay_conn *c, const cJSON *req,
		       const cJSON *id)
{
	struct relay_infer *inf = module_of(mod);
	struct infer_model *m = model_field(inf, c, req, id, "infer.unload");
	if (!m)
		return;
	int rc = infer_model_unload(inf, m);
	if (rc == -EBUSY) {
		size_t n = 0;
		for (struct infer_stream *st = inf->streams; st; st = st->next)
			n += st->model == m;
		relay_proto_error(c, id, "model_busy", "model", "infer.unload", "%s has %zu stream%s; "
				  "cancel them or wait", m->id, n, n == 1 ? "" : "s");
		return;
	}
	if (rc && m->state != MODEL_UNLOADED && m->state != MODEL_UNLOADING) {
		relay_proto_error(c, id, "model_busy", "model", "infer.unload", "%s is loading; unload "
				  "it once loaded", m->id);
		return;
	}
	cJSON *reply = relay_proto_reply("infer.unload", id);
	cJSON_AddStringToObject(reply, "model", m->id);
	cJSON_AddStringToObject(reply, "state", m->state == MODEL_UNLOADING ? "unloading" : "unloaded");
	relay_conn_send_json(c, reply);
}

static const char *const model_only[] = { "model", NULL };
const struct relay_msg relay_msg_infer_unload = { "infer.unload", "infer", model_only, msg_unload };

/* The sampling members, as `tether generate` takes them. */
static bool sampling_fields(struct relay_conn *c, const cJSON *req, const cJSON *id, const char *type,
			    const struct infer_model *m, struct infer_request *r)
{
	struct inf_sampler_params *sp = &r->sampling;
	double top_k = sp->top_k, last_n = sp->repeat_last_n, seed = -1, max_tokens = 0, logprobs = 0;
	if (!relay_proto_number_field(c, req, id, type, "temperature", 0, 100, &sp->temperature) ||
	    !relay_proto_int_field(c, req, id, type, "top_k", 0, m->n_vocab, &top_k) ||
	    !relay_proto_number_field(c, req, id, type, "top_p", 1e-9, 1, &sp->top_p) ||
	    !relay_proto_number_field(c, req, id, type, "min_p", 0, 0.999999, &sp->min_p) ||
	    !relay_proto_number_field(c, req, id, type, "repeat_penalty", 1e-9, 10, &sp->repeat_penalty) ||
	    !relay_proto_int_field(c, req, id, type, "repeat_last_n", 0, 1 << 20, &last_n) ||
	    !relay_proto_number_field(c, req, id, type, "frequency_penalty", -2, 2, &sp->frequency_penalty) ||
	    !relay_proto_number_field(c, req, id, type, "presence_penalty", -2, 2, &sp->presence_penalty) ||
	    !relay_proto_int_field(c, req, id, type, "seed", 0, 9007199254740991.0, &seed) ||
	    !relay_proto_int_field(c, req, id, type, "max_tokens", 1, 1 << 20, &max_tokens) ||
	    !relay_proto_int_field(c, req, id, type, "logprobs", 0, INFER_MAX_LOGPROBS, &logprobs))
		return false;
	sp->top_k = (int32_t)top_k;
	sp->repeat_last_n = (int32_t)last_n;
	r->max_tokens = (int32_t)max_tokens;
	r->logprobs = (int)logprobs;
	if (seed >= 0)
		sp->seed = (uint64_t)seed;
	else if (getrandom(&sp->seed, sizeof sp->seed, 0) != sizeof sp->seed)
		sp->seed = relay_now_ms();
	sp->seed &= (1ull << 53) - 1;   /* exact in JSON, so a reply's seed can be sent back */
	char err[INF_TEXT_ERR_MAX];
	if (inf_sampler_params_check(sp, m->n_vocab, err)) {
		relay_proto_error(c, id, "invalid_field", NULL, type, "%s", err);
		return false;
	}
	const cJSON *stop = cJSON_GetObjectItemCaseSensitive(req, "stop");
	if (stop) {
		const cJSON *s;
		bool ok = cJSON_IsString(stop) || (cJSON_IsArray(stop) && cJSON_GetArraySize(stop) <= INFER_MAX_STOPS);
		if (cJSON_IsString(stop) && *stop->valuestring && strlen(stop->valuestring) <= INFER_STOP_MAX_BYTES)
			ok = (r->stops[r->n_stops++] = strdup(stop->valuestring)) != NULL;
		else if (cJSON_IsString(stop))
			ok = false;
		else if (ok)
			cJSON_ArrayForEach(s, stop) {
				if (!cJSON_IsString(s) || !*s->valuestring ||
				    strlen(s->valuestring) > INFER_STOP_MAX_BYTES ||
				    !(r->stops[r->n_stops++] = strdup(s->valuestring))) {
					ok = false;
					break;
				}
			}
		if (!ok) {
			relay_proto_error(c, id, "invalid_field", "stop", type, "\"stop\" must be a string or "
					  "an array of at most %d strings, each of 1 to %d bytes",
					  INFER_MAX_STOPS, INFER_STOP_MAX_BYTES);
			return false;
		}
	}
	return true;
}

/* "messages": [{"role": "system"|"user"|"assistant", "content": "..."}, ...] */
static bool messages_field(struct relay_conn *c, const cJSON *req, const cJSON *id, struct infer_request *r)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, "messages"), *msg;
	if (!v) {
		relay_proto_error(c, id, "missing_field", "messages", "infer.chat",
				  "\"infer.chat\" needs \"messages\"");
		return false;
	}
	int n = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : -1;
	if (n < 1 || n > INFER_MAX_MESSAGES) {
		relay_proto_error(c, id, "invalid_field", "messages", "infer.chat", "\"messages\" must be an "
				  "array of 1 to %d messages", INFER_MAX_MESSAGES);
		return false;
	}
	r->msgs = calloc((size_t)n, sizeof *r->msgs);
	if (!r->msgs) {
		relay_proto_error(c, id, "internal", NULL, "infer.chat", "out of memory");
		return false;
	}
	size_t bytes = 0;
	int i = 0;
	cJSON_ArrayForEach(msg, v) {
		const cJSON *role = cJSON_GetObjectItemCaseSensitive(msg, "role");
		const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
		const char *bad = !cJSON_IsObject(msg) ? "must be an object" :
			!cJSON_IsString(role) || (strcmp(role->valuestring, "system") &&
						   strcmp(role->valuestring, "user") &&
						   strcmp(role->valuestring, "assistant")) ?
			"needs \"role\": \"system\", \"user\" or \"assistant\"" :
			!cJSON_IsString(content) ? "needs \"content\": a string" : NULL;
		for (const cJSON *k = cJSON_IsObject(msg) ? msg->child : NULL; !bad && k; k = k->next)
			if (strcmp(k->string, "role") && strcmp(k->string, "content"))
				bad = "has a member other than \"role\" and \"content\"";
		if (!bad && (bytes += strlen(content->valuestring)) > PROMPT_MAX_BYTES)
			bad = "makes the messages longer than 16 MiB";
		if (bad) {
			char field[32];
			snprintf(field, sizeof field, "messages[%d]", i);
			relay_proto_error(c, id, "invalid_field", field, "infer.chat", "%s %s", field, bad);
			return false;
		}
		r->msgs[i].role = strdup(role->valuestring);
		r->msgs[i].content = strdup(content->valuestring);
		r->n_msgs = (size_t)++i;
		if (!r->msgs[i - 1].role || !r->msgs[i - 1].content) {
			relay_proto_error(c, id, "internal", NULL, "infer.chat", "out of memory");
			return false;
		}
	}
	return true;
}

static void start_stream(struct relay_infer *inf, struct relay_conn *c, const cJSON *req, const cJSON *id,
			 const char *type, bool chat)
{
	struct infer_model *m = model_field(inf, c, req, id, type);
	if (!m)
		return;
	struct infer_engine_params p;
	infer_default_params(inf, &p);
	if (!load_fields(inf, c, req, id, type, &p))
		return;
	if (m->state != MODEL_UNLOADED && load_fields_given(req) && settings_differ(m, &p)) {
		relay_proto_error(c, id, "model_busy", "model", type, "%s is loaded with n_ctx %u and %u "
				  "slots: leave the load settings out, or unload it first", m->id,
				  m->params.n_ctx, m->params.n_slots);
		return;
	}
	if (m->state == MODEL_UNLOADING) {
		relay_proto_error(c, id, "model_busy", "model", type, "%s is being unloaded; ask again "
				  "in a moment", m->id);
		return;
	}
	struct infer_stream *st = calloc(1, sizeof *st);
	if (!st) {
		relay_proto_error(c, id, "internal", NULL, type, "out of memory");
		return;
	}
	struct infer_request *r = &st->req;
	inf_sampler_params_default(&r->sampling);
	double credit = INFER_DEFAULT_CREDIT;
	bool ok = relay_proto_int_field(c, req, id, type, "credit", 1, INFER_MAX_CREDIT, &credit) &&
		  sampling_fields(c, req, id, type, m, r);
	if (ok && chat) {
		ok = messages_field(c, req, id, r);
	} else if (ok) {
		const char *prompt = NULL;
		if (!cJSON_GetObjectItemCaseSensitive(req, "prompt")) {
			relay_proto_error(c, id, "missing_field", "prompt", type, "\"%s\" needs \"prompt\"", type);
			ok = false;
		} else if ((ok = relay_proto_string_field(c, req, id, type, "prompt", PROMPT_MAX_BYTES, true,
							  &prompt)) && !(r->prompt = strdup(prompt))) {
			relay_proto_error(c, id, "internal", NULL, type, "out of memory");
			ok = false;
		}
	}
	size_t waiting = 0;
	for (struct infer_stream *w = m->waiting; w; w = w->next_waiting)
		waiting++;
	if (ok && m->state != MODEL_LOADED && waiting >= p.n_slots + (size_t)p.queue) {
		relay_proto_error(c, id, "too_many_streams", NULL, type, "%s is loading and %zu requests "
				  "wait for it already (infer_parallel + infer_queue)", m->id, waiting);
		ok = false;
	}
	if (!ok) {
		infer_request_free(r);
		free(st);
		return;
	}
	st->mod = inf;
	st->model = m;
	st->id = ++inf->next_stream_id;
	st->credit = (long)credit;
	st->slot = -1;
	st->t_submit_ms = (double)uv_hrtime() / 1e6;
	relay_chan_add(c, &st->chan, &stream_ops, true);
	st->next = inf->streams;
	inf->streams = st;
	if (m->state == MODEL_LOADED && infer_engine_submit(m->engine, st)) {
		relay_proto_error(c, id, "too_many_streams", NULL, type, "%s: all %u slots are busy and "
				  "%ld requests wait already (infer_parallel, infer_queue)", m->id,
				  m->params.n_slots, m->params.queue);
		st->orphaned = true;   /* nothing to tell: the error was the reply */
		relay_chan_remove(&st->chan);
		stream_free(st);
		return;
	}
	cJSON *reply = relay_proto_reply(type, id);
	cJSON_AddNumberToObject(reply, "stream", (double)st->id);
	cJSON_AddNumberToObject(reply, "channel", st->chan.id);
	cJSON_AddStringToObject(reply, "model", m->id);
	cJSON_AddBoolToObject(reply, "loading", m->state != MODEL_LOADED);
	relay_conn_send_json(c, reply);
	if (m->state == MODEL_LOADED) {
		st->submitted = true;
	} else {
		st->next_waiting = m->waiting;
		m->waiting = st;
		infer_model_load(inf, m, &p);   /* or joins the load running */
	}
	infer_changed(inf);
}

static void msg_generate(struct relay_module *mod, struct relay_conn *c, const cJSON *req,
			 const cJSON *id)
{
	start_stream(module_of(mod), c, req, id, "infer.generate", false);
}

static void msg_chat(struct relay_module *mod, struct relay_conn *c, const cJSON *req,
		     const cJSON *id)
{
	start_stream(module_of(mod), c, req, id, "infer.chat", true);
}

#define SAMPLING_FIELDS "max_tokens", "temperature", "top_k", "top_p", "min_p", "repeat_penalty", \
	"repeat_last_n", "frequency_penalty", "presence_penalty", "seed", "stop", "logprobs", "credit", \
	"ctx", "slots", "threads", "kv_type", "backend"
static const char *const generate_fields[] = { "model", "prompt", SAMPLING_FIELDS, NULL };
static const char *const chat_fields[] = { "model", "messages", SAMPLING_FIELDS, NULL };
const struct relay_msg relay_msg_infer_generate = { "infer.generate", "infer", generate_fields, msg_generate };
const struct relay_msg relay_msg_infer_chat = { "infer.chat", "infer", chat_fields, msg_chat };

/* The stream named by "stream" on this connection. */
static struct infer_stream *stream_field(struct relay_conn *c, const cJSON *req, const cJSON *id,
					 const char *type)
{
	double sid = 0;
	if (!cJSON_GetObjectItemCaseSensitive(req, "stream")) {
		relay_proto_error(c, id, "missing_field", "stream", type, "\"%s\" needs \"stream\"", type);
		return NULL;
	}
	if (!relay_proto_int_field(c, req, id, type, "stream", 1, 9007199254740991.0, &sid))
		return NULL;
	for (struct relay_chan *ch = c->chans; ch; ch = ch->next)
		if (ch->ops == &stream_ops &&
		    relay_container_of(ch, struct infer_stream, chan)->id == (uint64_t)sid)
			return relay_container_of(ch, struct infer_stream, chan);
	relay_proto_error(c, id, "unknown_stream", "stream", type, "no stream %.0f on this connection "
			  "(it ended, or another connection started it)", sid);
	return NULL;
}

static void msg_cancel(struct relay_module *mod, struct relay_conn *c, const cJSON *req,
		       const cJSON *id)
{
	struct infer_stream *st = stream_field(c, req, id, "infer.cancel");
	(void)mod;
	if (!st)
		return;
	cJSON *reply = relay_proto_reply("infer.cancel", id);
	cJSON_AddNumberToObject(reply, "stream", (double)st->id);
	relay_conn_send_json(c, reply);
	if (st->submitted) {
		infer_engine_cancel(st->model->engine, st);
		return;
	}
	for (struct infer_stream **pp = &st->model->waiting; *pp; pp = &(*pp)->next_waiting)
		if (*pp == st) {
			*pp = st->next_waiting;
			break;
		}
	infer_stream_fail(st, "cancelled", "cancelled while %s loaded", st->model->id);
}

static const char *const stream_only[] = { "stream", NULL };
const struct relay_msg relay_msg_infer_cancel = { "infer.cancel", "infer", stream_only, msg_cancel };

static void msg_credit(struct relay_module *mod, struct relay_conn *c, const cJSON *req,
		       const cJSON *id)
{
	double deltas = 0;
	(void)mod;
	if (!cJSON_GetObjectItemCaseSensitive(req, "deltas")) {
		relay_proto_error(c, id, "missing_field", "deltas", "infer.credit",
				  "\"infer.credit\" needs \"deltas\"");
		return;
	}
	if (!relay_proto_int_field(c, req, id, "infer.credit", "deltas", 1, INFER_MAX_CREDIT, &deltas))
		return;
	struct infer_stream *st = stream_field(c, req, id, "infer.credit");
	if (!st)
		return;
	if (st->submitted)
		infer_engine_grant(st->model->engine, st, (long)deltas);
	else
		st->credit = st->credit + (long)deltas > INFER_MAX_CREDIT ? INFER_MAX_CREDIT
									: st->credit + (long)deltas;
	cJSON *reply = relay_proto_reply("infer.credit", id);
	cJSON_AddNumberToObject(reply, "stream", (double)st->id);
	relay_conn_send_json(c, reply);
}

static const char *const credit_fields[] = { "stream", "deltas", NULL };
const struct relay_msg relay_msg_infer_credit = { "infer.credit", "infer", credit_fields, msg_credit };
