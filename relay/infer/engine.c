/* A loaded model's generation thread: its slots, the queue of streams
 * waiting for one, and the steps that evaluate every running stream's next
 * tokens together (docs/inference.md, "Serving"). The loop talks to it only
 * through the functions in infer_internal.h. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "infer_internal.h"

struct infer_engine {
	struct inf_model *model;            /* owned */
	struct infer_engine_params p;       /* n_ctx resolved */
	enum inf_isa isa;
	uint32_t n_vocab;
	struct inf_context *ctx;            /* every slot a sequence of it */
	uv_thread_t thread;
	bool thread_started;
	uv_mutex_t mu;
	uv_cond_t cond;
	uv_async_t async;                   /* to the loop */
	void (*notify)(void *arg);
	void *arg;
	void (*freed)(void *arg);           /* after infer_engine_free */
	void *freed_arg;

	/* mu */
	bool quit, exited;
	struct infer_stream *pending_head, *pending_tail;
	size_t n_pending, n_active;
	struct infer_stream *dirty;

	/* engine */
	struct infer_stream **slots;        /* the stream in each slot, or NULL */
	int32_t **cache;                    /* the tokens each slot's KV cache holds */
	size_t *n_cache;
	uint64_t *slot_used;                /* the step that last used it (least recent first) */
	uint64_t steps;
	float *work;                        /* logits the sampler may modify */
};

static double now_ms(void)
{
	return (double)uv_hrtime() / 1e6;
}

/* ---- the batch: one forward pass for every slot's tokens ---- */

/* One context holds every slot as a sequence; the engine is batch
 * invariant (docs/inference.md), so what a stream gets does not depend on
 * which other streams share its steps or on how its prompt was chunked. */
static int run_batch(struct infer_engine *e, const struct inf_batch_seq *items, size_t n,
		     char err[INF_ERR_MAX])
{
	return inf_evaluate_batch(e->ctx, items, n, err);
}

static const float *slot_logits(struct infer_engine *e, uint32_t slot)
{
	return inf_seq_logits(e->ctx, slot);
}

static int slot_truncate(struct infer_engine *e, uint32_t slot, uint32_t n_past, char err[INF_ERR_MAX])
{
	return inf_seq_truncate(e->ctx, slot, n_past, err);
}

uint64_t infer_engine_context_bytes(const struct inf_model *model, const struct infer_engine_params *p)
{
	return inf_context_bytes_seq(model, p->n_ctx, p->kv_type, p->n_slots);
}

/* ---- events ---- */

/* Hands an event to the loop (ownership of ev taken). last: the stream's
 * done event, after which the engine never touches st again. */
static void push(struct infer_engine *e, struct infer_stream *st, cJSON *ev, bool last)
{
	char *text = ev ? cJSON_PrintUnformatted(ev) : NULL;
	cJSON_Delete(ev);
	uv_mutex_lock(&e->mu);
	if (text && st->ring_n < INFER_EVENTS_MAX) {
		unsigned k = (st->ring_head + st->ring_n++) % INFER_EVENTS_MAX;
		st->ring[k] = text;
		st->ring_len[k] = strlen(text);
		text = NULL;
	}
	if (last) {
		st->ended = true;
		st->state = "done";
	}
	if (!st->dirty) {
		st->dirty = true;
		st->next_dirty = e->dirty;
		e->dirty = st;
	}
	uv_mutex_unlock(&e->mu);
	free(text);   /* only when out of memory or the ring was full (never for a delta, see can_emit) */
	uv_async_send(&e->async);
}

static void set_state(struct infer_engine *e, struct infer_stream *st, const char *state)
{
	uv_mutex_lock(&e->mu);
	st->state = state;
	uv_mutex_unlock(&e->mu);
}

/* A delta may be made: credit left, and room for it, a last delta and the
 * done event. mu held. */
static bool can_emit(const struct infer_stream *st)
{
	return st->credit > 0 && st->ring_n + 3 <= INFER_EVENTS_MAX;
}

/* The log-probabilities of the raw logits: the chosen token's and the top k. */
static cJSON *logprobs_json(const float *logits, uint32_t n_vocab, int32_t chosen, int k)
{
	float max = -INFINITY;
	for (uint32_t i = 0; i < n_vocab; i++)
		if (logits[i] > max)
			max = logits[i];
	double sum = 0;
	for (uint32_t i = 0; i < n_vocab; i++)
		sum += isfinite(logits[i]) ? exp((double)logits[i] - max) : 0;
	double log_z = max + log(sum);
	int32_t top[INFER_MAX_LOGPROBS];   /* the k largest so far, largest first */
	int n_top = 0;
	for (uint32_t i = 0; i < n_vocab; i++) {
		if (!isfinite(logits[i]) || (n_top == k && !(logits[i] > logits[top[k - 1]])))
			continue;
		int at = n_top < k ? n_top++ : k - 1;
		for (; at > 0 && logits[i] > logits[top[at - 1]]; at--)
			top[at] = top[at - 1];
		top[at] = (int32_t)i;
	}
	cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "top");
	cJSON_AddNumberToObject(o, "id", chosen);
	cJSON_AddNumberToObject(o, "logprob", (double)logits[chosen] - log_z);
	for (int i = 0; i < n_top; i++) {
		cJSON *t = cJSON_CreateObject();
		cJSON_AddNumberToObject(t, "id", top[i]);
		cJSON_AddNumberToObject(t, "logprob", (double)logits[top[i]] - log_z);
		cJSON_AddItemToArray(arr, t);
	}
	return o;
}

/* A delta: text (whole UTF-8; bytes of a character not yet complete wait in
 * st->pend), the token (or -1 for none) and its log-probabilities. */
static void push_delta(struct infer_engine *e, struct infer_stream *st, const char *bytes,
		       size_t len, bool final, int32_t token, const float *raw_logits)
{
	char in[sizeof st->pend + 512], out[3 * sizeof in + 1];
	size_t n_in = 0, n_out = 0;
	memcpy(in, st->pend, st->n_pend);
	n_in = st->n_pend;
	if (len > sizeof in - n_in)
		len = sizeof in - n_in;   /* a piece is at most 256 bytes */
	memcpy(in + n_in, bytes, len);
	n_in += len;
	size_t used = relay_utf8_whole(in, n_in, final, out, &n_out);
	st->n_pend = n_in - used;
	memcpy(st->pend, in + used, st->n_pend);
	if (token < 0 && !n_out)
		return;
	cJSON *ev = cJSON_CreateObject(), *ids = cJSON_CreateArray();
	cJSON_AddStringToObject(ev, "type", "infer.delta");
	cJSON_AddNumberToObject(ev, "stream", (double)st->id);
	out[n_out] = 0;   /* relay_utf8_whole writes no NUL */
	cJSON_AddStringToObject(ev, "text", out);
	if (token >= 0)
		cJSON_AddItemToArray(ids, cJSON_CreateNumber(token));
	cJSON_AddItemToObject(ev, "ids", ids);
	if (token >= 0 && st->req.logprobs) {
		cJSON *lp = cJSON_AddArrayToObject(ev, "logprobs");
		cJSON_AddItemToArray(lp, logprobs_json(raw_logits, e->n_vocab, token, st->req.logprobs));
	}
	uv_mutex_lock(&e->mu);
	if (token >= 0) {
		st->credit--;
		st->n_generated++;
	}
	uv_mutex_unlock(&e->mu);
	push(e, st, ev, false);
	uv_mutex_lock(&e->mu);
	if (!st->ended && !can_emit(st))
		st->state = "paused";
	uv_mutex_unlock(&e->mu);
}

static cJSON *settings_json(const struct infer_engine *e, const struct infer_stream *st)
{
	const struct infer_request *r = &st->req;
	cJSON *s = cJSON_CreateObject(), *stops = cJSON_CreateArray();
	cJSON_AddBoolToObject(s, "chat", r->msgs != NULL);
	cJSON_AddStringToObject(s, "chat_template", st->chat_family ? st->chat_family : "none");
	cJSON_AddNumberToObject(s, "max_tokens", r->max_tokens);
	cJSON_AddNumberToObject(s, "temperature", r->sampling.temperature);
	cJSON_AddNumberToObject(s, "top_k", r->sampling.top_k);
	cJSON_AddNumberToObject(s, "top_p", r->sampling.top_p);
	cJSON_AddNumberToObject(s, "min_p", r->sampling.min_p);
	cJSON_AddNumberToObject(s, "repeat_penalty", r->sampling.repeat_penalty);
	cJSON_AddNumberToObject(s, "repeat_last_n", r->sampling.repeat_last_n);
	cJSON_AddNumberToObject(s, "frequency_penalty", r->sampling.frequency_penalty);
	cJSON_AddNumberToObject(s, "presence_penalty", r->sampling.presence_penalty);
	relay_json_set_integer(s, "seed", r->sampling.seed);
	for (size_t i = 0; i < r->n_stops; i++)
		cJSON_AddItemToArray(stops, cJSON_CreateString(r->stops[i]));
	cJSON_AddItemToObject(s, "stop", stops);
	cJSON_AddNumberToObject(s, "logprobs", r->logprobs);
	cJSON_AddNumberToObject(s, "n_ctx", e->p.n_ctx);
	cJSON_AddNumberToObject(s, "slot", st->slot);
	cJSON_AddNumberToObject(s, "threads", e->p.n_threads);
	cJSON_AddStringToObject(s, "kv_type", inf_kv_type_name(e->p.kv_type));
	cJSON_AddStringToObject(s, "isa", inf_isa_name(e->isa));
	return s;
}

/* Ends a stream: the held-back text (unless a stop string matched), then
 * the done event; the slot keeps its cache for the next stream. code: an
 * error code (reason "error"), or NULL. */
static void end_stream(struct infer_engine *e, struct infer_stream *st, const char *reason,
		       const char *code, const char *message)
{
	double t = now_ms();
	if (!code && strcmp(reason, "stop") && st->stop) {
		const char *emit;
		size_t emit_len;
		inf_stop_flush(st->stop, &emit, &emit_len);
		push_delta(e, st, emit, emit_len, true, -1, NULL);
	} else if (!code) {
		push_delta(e, st, "", 0, true, -1, NULL);
	}
	cJSON *ev = cJSON_CreateObject();
	cJSON_AddStringToObject(ev, "type", "infer.done");
	cJSON_AddNumberToObject(ev, "stream", (double)st->id);
	cJSON_AddStringToObject(ev, "model", st->model->id);
	cJSON_AddStringToObject(ev, "stop_reason", code ? "error" : reason);
	if (code) {
		cJSON *er = cJSON_AddObjectToObject(ev, "error");
		cJSON_AddStringToObject(er, "code", code);
		cJSON_AddStringToObject(er, "message", message);
	}
	cJSON *u = cJSON_AddObjectToObject(ev, "usage");
	cJSON_AddNumberToObject(u, "prompt_tokens", (double)st->n_prompt);
	cJSON_AddNumberToObject(u, "cached_tokens", (double)st->n_cached);
	cJSON_AddNumberToObject(u, "generated_tokens", (double)st->n_gen);
	cJSON *tm = cJSON_AddObjectToObject(ev, "timings");
	double admit = st->t_admit_ms ? st->t_admit_ms : t;
	double prompt_ms = st->t_prompt_ms ? st->t_prompt_ms - admit : 0;
	double gen_ms = st->n_gen > 1 ? st->t_last_ms - st->t_first_ms : 0;
	cJSON_AddNumberToObject(tm, "queue_ms", admit - st->t_submit_ms);
	cJSON_AddNumberToObject(tm, "ttft_ms", st->t_first_ms ? st->t_first_ms - st->t_submit_ms : 0);
	cJSON_AddNumberToObject(tm, "prompt_ms", prompt_ms);
	cJSON_AddNumberToObject(tm, "prompt_tokens_per_s",
				prompt_ms > 0 ? (double)(st->n_prompt - st->n_cached) / (prompt_ms / 1e3) : 0);
	cJSON_AddNumberToObject(tm, "gen_ms", gen_ms);
	cJSON_AddNumberToObject(tm, "gen_tokens_per_s",
				gen_ms > 0 ? (double)(st->n_gen - 1) / (gen_ms / 1e3) : 0);
	cJSON_AddItemToObject(ev, "settings", settings_json(e, st));
	if (st->slot >= 0) {
		/* what the slot's cache holds now: the evaluated tokens */
		uint32_t s = (uint32_t)st->slot;
		memcpy(e->cache[s], st->ids, st->n_evaluated * sizeof(int32_t));
		e->n_cache[s] = st->n_evaluated;
		e->slot_used[s] = e->steps;
		e->slots[s] = NULL;
	}
	if (st->sampler)
		inf_sampler_free(st->sampler);
	if (st->stop)
		inf_stop_free(st->stop);
	st->sampler = NULL;
	st->stop = NULL;
	free(st->ids);
	st->ids = NULL;
	bool admitted = st->t_admit_ms != 0;
	push(e, st, ev, true);   /* st is the loop's from here on */
	if (admitted) {
		uv_mutex_lock(&e->mu);
		e->n_active--;
		uv_mutex_unlock(&e->mu);
	}
}

/* ---- admission ---- */

static size_t common_prefix(const int32_t *a, size_t na, const int32_t *b, size_t nb)
{
	size_t i = 0;
	while (i < na && i < nb && a[i] == b[i])
		i++;
	return i;
}

/* Renders and tokenizes the prompt, makes the sampler and the stop matcher,
 * and takes the free slot whose cache shares the longest prefix with it. */
static void start_stream(struct infer_engine *e, struct infer_stream *st)
{
	char err[INF_ERR_MAX] = "", terr[INF_TEXT_ERR_MAX] = "";
	struct infer_request *r = &st->req;
	uint32_t n_ctx = e->p.n_ctx;
	char *text = NULL;
	int rc;

	st->t_admit_ms = now_ms();
	st->slot = -1;
	if (r->msgs) {
		rc = inf_model_render_chat(e->model, r->msgs, r->n_msgs, &text, &st->chat_family, err);
		if (rc) {
			end_stream(e, st, "error", rc == INF_EUNSUPPORTED ? "unsupported" : "invalid_field",
				   err);
			return;
		}
	}
	const char *prompt = text ? text : r->prompt;
	st->cap_ids = (size_t)n_ctx + 1;
	st->ids = malloc(st->cap_ids * sizeof(int32_t));
	if (!st->ids) {
		free(text);
		end_stream(e, st, "error", "internal", "out of memory");
		return;
	}
	rc = inf_model_tokenize(e->model, prompt, strlen(prompt), true, r->msgs != NULL, st->ids,
				n_ctx, &st->n_prompt, err);
	free(text);
	if (rc == INF_ERANGE) {
		snprintf(err, sizeof err, "the prompt is %zu tokens, a slot's context (n_ctx) is %u",
			 st->n_prompt, n_ctx);
		st->n_prompt = 0;
		end_stream(e, st, "error", "context_exceeded", err);
		return;
	}
	if (rc || !st->n_prompt) {
		end_stream(e, st, "error", "invalid_field", rc ? err : "the prompt is empty (no tokens)");
		return;
	}
	if (!r->max_tokens)
		r->max_tokens = (int32_t)(n_ctx - st->n_prompt);
	if ((uint32_t)r->max_tokens > n_ctx || (uint32_t)r->sampling.repeat_last_n > n_ctx) {
		snprintf(err, sizeof err, "%s %d is above the slot's context (n_ctx %u)",
			 (uint32_t)r->max_tokens > n_ctx ? "max_tokens" : "repeat_last_n",
			 (uint32_t)r->max_tokens > n_ctx ? r->max_tokens : r->sampling.repeat_last_n, n_ctx);
		end_stream(e, st, "error", "context_exceeded", err);
		return;
	}
	if ((rc = inf_sampler_create(&r->sampling, e->n_vocab, &st->sampler, terr)) ||
	    (rc = inf_stop_create((const char *const *)r->stops, r->n_stops, &st->stop, terr))) {
		end_stream(e, st, "error", "invalid_field", terr);
		return;
	}
	st->n_ids = st->n_prompt;
	int best = -1;
	size_t best_len = 0;
	for (uint32_t s = 0; s < e->p.n_slots; s++) {
		if (e->slots[s])
			continue;
		size_t len = common_prefix(e->cache[s], e->n_cache[s], st->ids, st->n_prompt);
		if (best < 0 || len > best_len ||
		    (len == best_len && e->slot_used[s] < e->slot_used[best])) {
			best = (int)s;
			best_len = len;
		}
	}
	/* at least the last prompt token is evaluated, for its logits */
	size_t reuse = best_len < st->n_prompt ? best_len : st->n_prompt - 1;
	if ((rc = slot_truncate(e, (uint32_t)best, (uint32_t)reuse, err))) {
		end_stream(e, st, "error", "internal", err);
		return;
	}
	e->n_cache[best] = reuse;
	e->slots[best] = st;
	st->slot = best;
	st->n_evaluated = st->n_cached = reuse;
	st->next_token = -1;
	set_state(e, st, "prompt");
}

/* ---- a step ---- */

/* The logits of st's last evaluated token are ready: sample, emit, and end
 * the stream or leave the token to evaluate next. As inf_generate does. */
static void next_token(struct infer_engine *e, struct infer_stream *st)
{
	const float *logits = slot_logits(e, (uint32_t)st->slot);
	const struct infer_request *r = &st->req;
	memcpy(e->work, logits, e->n_vocab * sizeof(float));
	size_t lo = r->sampling.repeat_last_n && st->n_ids > (size_t)r->sampling.repeat_last_n
			    ? st->n_ids - (size_t)r->sampling.repeat_last_n : 0;
	int32_t tok = inf_sampler_sample(st->sampler, e->work, st->ids + lo, st->n_ids - lo);
	double t = now_ms();
	if (tok < 0) {
		end_stream(e, st, "error", "internal", "the sampler returned no token");
		return;
	}
	if (!st->n_gen)
		st->t_first_ms = t;
	if (inf_model_token_is_eog(e->model, tok)) {
		end_stream(e, st, "eos", NULL, NULL);
		return;
	}
	st->t_last_ms = t;
	st->ids[st->n_ids++] = tok;
	st->n_gen++;
	char piece[256];
	int k = inf_model_token_piece(e->model, tok, false, piece, sizeof piece);
	const char *emit;
	size_t emit_len;
	bool stopped = inf_stop_feed(st->stop, piece, k > 0 ? (size_t)k : 0, &emit, &emit_len);
	push_delta(e, st, emit, emit_len, false, tok, logits);
	if (stopped)
		end_stream(e, st, "stop", NULL, NULL);
	else if (st->n_gen == (size_t)r->max_tokens)
		end_stream(e, st, "max_tokens", NULL, NULL);
	else if (st->n_evaluated >= e->p.n_ctx)
		end_stream(e, st, "context", NULL, NULL);
	else
		st->next_token = tok;
}

/* One step: cancelled streams end; every generating stream with credit
 * gives its next token, and the prompts waiting are evaluated in chunks
 * (at most INFER_PROMPT_CHUNK while others generate, so those wait for one
 * chunk at most), all in one batch. A stream without credit, or whose
 * events the loop has not taken yet, sits the step out (paused). */
static void step(struct infer_engine *e)
{
	struct inf_batch_seq items[INFER_MAX_SLOTS];
	struct infer_stream *who[INFER_MAX_SLOTS];
	bool cancel[INFER_MAX_SLOTS], emit[INFER_MAX_SLOTS];
	uint32_t n_slots = e->p.n_slots;
	size_t n = 0, budget = INF_MAX_BATCH;
	bool decoding = false;

	uv_mutex_lock(&e->mu);
	for (uint32_t s = 0; s < n_slots; s++) {
		struct infer_stream *st = e->slots[s];
		cancel[s] = st && st->cancel;
		emit[s] = st && can_emit(st);
		if (st && st->next_token >= 0)
			st->state = emit[s] ? "generating" : "paused";
	}
	uv_mutex_unlock(&e->mu);
	e->steps++;
	for (uint32_t s = 0; s < n_slots; s++) {
		struct infer_stream *st = e->slots[s];
		if (st && cancel[s])
			end_stream(e, st, "cancelled", NULL, NULL);
		else if (st && emit[s] && st->next_token >= 0) {
			items[n] = (struct inf_batch_seq){ s, st->ids + st->n_evaluated, 1 };
			who[n++] = st;
			budget--;
			decoding = true;
		}
	}
	for (uint32_t s = 0; s < n_slots && budget; s++) {
		struct infer_stream *st = e->slots[s];
		if (!st || !emit[s] || st->next_token >= 0)
			continue;
		size_t take = st->n_prompt - st->n_evaluated;
		if (decoding && take > INFER_PROMPT_CHUNK)
			take = INFER_PROMPT_CHUNK;
		if (take > budget)
			take = budget;
		items[n] = (struct inf_batch_seq){ s, st->ids + st->n_evaluated, (uint32_t)take };
		who[n++] = st;
		budget -= take;
	}
	if (!n)
		return;
	char err[INF_ERR_MAX] = "";
	int rc = run_batch(e, items, n, err);
	double t = now_ms();
	for (size_t i = 0; i < n; i++) {
		struct infer_stream *st = who[i];
		if (rc) {
			end_stream(e, st, "error", rc == INF_ECONTEXT ? "context_exceeded" : "internal", err);
			continue;
		}
		st->n_evaluated += items[i].n;
		e->slot_used[items[i].seq] = e->steps;
		if (st->n_evaluated < st->n_prompt)
			continue;   /* more of the prompt next step */
		if (st->next_token < 0) {
			st->t_prompt_ms = t;
			set_state(e, st, "generating");
		}
		next_token(e, st);
	}
}

/* ---- the thread ---- */

/* Something to do: a stream to admit, cancel, evaluate or feed. mu held. */
static bool runnable(const struct infer_engine *e)
{
	if (e->pending_head && e->n_active < e->p.n_slots)
		return true;
	for (uint32_t s = 0; s < e->p.n_slots; s++) {
		const struct infer_stream *st = e->slots[s];
		if (st && (st->cancel || st->next_token < 0 || can_emit(st)))
			return true;
	}
	return e->pending_head && e->pending_head->cancel;
}

static void thread_main(void *arg)
{
	struct infer_engine *e = arg;
	uv_mutex_lock(&e->mu);
	while (!e->quit) {
		struct infer_stream *admit = NULL, **tail = &admit, *cancelled = NULL;
		/* cancelled streams leave the queue; the first ones take free slots */
		for (struct infer_stream **pp = &e->pending_head; *pp;) {
			struct infer_stream *st = *pp;
			if (st->cancel || e->n_active < e->p.n_slots) {
				*pp = st->next_pending;
				e->n_pending--;
				st->next_pending = NULL;
				if (st->cancel) {
					st->next_pending = cancelled;
					cancelled = st;
				} else {
					e->n_active++;
					*tail = st;
					tail = &st->next_pending;
				}
			} else {
				pp = &st->next_pending;
			}
		}
		e->pending_tail = NULL;
		for (struct infer_stream *st = e->pending_head; st; st = st->next_pending)
			e->pending_tail = st;
		if (!admit && !cancelled && !runnable(e)) {
			uv_cond_wait(&e->cond, &e->mu);
			continue;
		}
		uv_mutex_unlock(&e->mu);
		while (cancelled) {
			struct infer_stream *st = cancelled;
			cancelled = st->next_pending;
			st->slot = -1;
			end_stream(e, st, "cancelled", NULL, NULL);
		}
		while (admit) {
			struct infer_stream *st = admit;
			admit = st->next_pending;
			start_stream(e, st);
		}
		step(e);
		uv_mutex_lock(&e->mu);
	}
	/* unloading: every stream still here ends */
	struct infer_stream *rest = e->pending_head;
	e->pending_head = e->pending_tail = NULL;
	e->n_pending = 0;
	uv_mutex_unlock(&e->mu);
	for (uint32_t s = 0; s < e->p.n_slots; s++)
		if (e->slots[s])
			end_stream(e, e->slots[s], "unloaded", NULL, NULL);
	while (rest) {
		struct infer_stream *st = rest;
		rest = st->next_pending;
		st->slot = -1;
		end_stream(e, st, "unloaded", NULL, NULL);
	}
	/* munmap of a large model and the contexts' pools: not on the loop */
	inf_context_free(e->ctx);
	e->ctx = NULL;
	inf_model_free(e->model);
	e->model = NULL;
	uv_mutex_lock(&e->mu);
	e->exited = true;
	uv_mutex_unlock(&e->mu);
	uv_async_send(&e->async);
}

static void on_async(uv_async_t *a)
{
	struct infer_engine *e = a->data;
	e->notify(e->arg);
}

static void free_engine(struct infer_engine *e)
{
	inf_context_free(e->ctx);
	if (e->cache)
		for (uint32_t s = 0; s < e->p.n_slots; s++)
			free(e->cache[s]);
	free(e->cache);
	free(e->n_cache);
	free(e->slot_used);
	free(e->slots);
	free(e->work);
	if (e->model)
		inf_model_free(e->model);
	uv_mutex_destroy(&e->mu);
	uv_cond_destroy(&e->cond);
	free(e);
}

int infer_engine_create(struct inf_model *model, const struct infer_engine_params *p,
			struct infer_engine **out, char err[INF_ERR_MAX])
{
	struct infer_engine *e = calloc(1, sizeof *e);
	if (!e) {
		inf_model_free(model);
		return snprintf(err, INF_ERR_MAX, "out of memory"), INF_ENOMEM;
	}
	struct inf_model_info info;
	inf_model_get_info(model, &info);
	e->model = model;
	e->p = *p;
	e->n_vocab = info.n_vocab;
	uv_mutex_init(&e->mu);
	uv_cond_init(&e->cond);
	uint32_t n = p->n_slots;
	e->cache = calloc(n, sizeof *e->cache);
	e->n_cache = calloc(n, sizeof *e->n_cache);
	e->slot_used = calloc(n, sizeof *e->slot_used);
	e->slots = calloc(n, sizeof *e->slots);
	e->work = malloc(e->n_vocab * sizeof(float));
	int rc = e->cache && e->n_cache && e->slot_used && e->slots && e->work ? 0 : INF_ENOMEM;
	if (rc)
		snprintf(err, INF_ERR_MAX, "out of memory");
	struct inf_context_params cp;
	inf_context_params_default(&cp);
	cp.n_ctx = p->n_ctx;
	cp.n_threads = p->n_threads;
	cp.kv_type = p->kv_type;
	cp.n_seq = n;
	cp.max_bytes = UINT64_MAX;   /* the module checked the memory, all models together */
	if (!rc && !(rc = inf_context_create(model, &cp, &e->ctx, err))) {
		inf_context_get_params(e->ctx, &cp);
		e->p.n_ctx = cp.n_ctx;
		e->p.n_threads = cp.n_threads;
		e->isa = cp.isa;
	}
	for (uint32_t s = 0; !rc && s < n; s++)
		if (!(e->cache[s] = malloc(((size_t)e->p.n_ctx + 1) * sizeof(int32_t))))
			rc = INF_ENOMEM, snprintf(err, INF_ERR_MAX, "out of memory");
	if (rc) {
		free_engine(e);
		return rc;
	}
	*out = e;
	return 0;
}

int infer_engine_run(struct infer_engine *e, uv_loop_t *loop, void (*notify)(void *arg), void *arg,
		     char err[INF_ERR_MAX])
{
	e->notify = notify;
	e->arg = arg;
	if (uv_async_init(loop, &e->async, on_async)) {
		free_engine(e);
		return snprintf(err, INF_ERR_MAX, "uv_async_init failed"), INF_ENOMEM;
	}
	e->async.data = e;
	if (uv_thread_create(&e->thread, thread_main, e)) {
		snprintf(err, INF_ERR_MAX, "cannot start the generation thread");
		infer_engine_free(e, NULL, NULL);
		return INF_ENOMEM;
	}
	e->thread_started = true;
	return 0;
}

void infer_engine_discard(struct infer_engine *e)
{
	free_engine(e);
}

int infer_engine_submit(struct infer_engine *e, struct infer_stream *st)
{
	uv_mutex_lock(&e->mu);
	size_t free_slots = e->p.n_slots - e->n_active;
	if (e->quit || e->n_pending >= free_slots + (size_t)e->p.queue) {
		uv_mutex_unlock(&e->mu);
		return -EBUSY;
	}
	st->state = "queued";
	st->next_pending = NULL;
	if (e->pending_tail)
		e->pending_tail->next_pending = st;
	else
		e->pending_head = st;
	e->pending_tail = st;
	e->n_pending++;
	uv_cond_signal(&e->cond);
	uv_mutex_unlock(&e->mu);
	return 0;
}

void infer_engine_cancel(struct infer_engine *e, struct infer_stream *st)
{
	uv_mutex_lock(&e->mu);
	st->cancel = true;
	uv_cond_signal(&e->cond);
	uv_mutex_unlock(&e->mu);
}

void infer_engine_grant(struct infer_engine *e, struct infer_stream *st, long credit)
{
	uv_mutex_lock(&e->mu);
	st->credit = st->credit + credit > INFER_MAX_CREDIT ? INFER_MAX_CREDIT : st->credit + credit;
	if (!st->ended && st->slot >= 0 && !strcmp(st->state, "paused") && can_emit(st))
		st->state = "generating";
	uv_cond_signal(&e->cond);
	uv_mutex_unlock(&e->mu);
}

struct infer_stream *infer_engine_next_dirty(struct infer_engine *e)
{
	uv_mutex_lock(&e->mu);
	struct infer_stream *st = e->dirty;
	if (st) {
		e->dirty = st->next_dirty;
		st->next_dirty = NULL;
		st->dirty = false;
	}
	uv_mutex_unlock(&e->mu);
	return st;
}

/* Takes st off the dirty list (its done event was popped: the loop frees it
 * next, and the thread never pushes to it again). Under mu. */
static void undirty(struct infer_engine *e, struct infer_stream *st)
{
	if (!st->dirty)
		return;
	for (struct infer_stream **pp = &e->dirty; *pp; pp = &(*pp)->next_dirty)
		if (*pp == st) {
			*pp = st->next_dirty;
			break;
		}
	st->dirty = false;
	st->next_dirty = NULL;
}

char *infer_engine_pop(struct infer_engine *e, struct infer_stream *st, size_t *len, bool *last)
{
	char *ev = NULL;
	uv_mutex_lock(&e->mu);
	bool was_paused = !can_emit(st);
	if (st->ring_n) {
		ev = st->ring[st->ring_head];
		*len = st->ring_len[st->ring_head];
		st->ring_head = (st->ring_head + 1) % INFER_EVENTS_MAX;
		st->ring_n--;
	}
	*last = st->ended && !st->ring_n;
	if (*last)
		undirty(e, st);
	if (ev && was_paused && can_emit(st)) {
		if (!st->ended && st->slot >= 0)
			st->state = "generating";
		uv_cond_signal(&e->cond);
	}
	uv_mutex_unlock(&e->mu);
	return ev;
}

void infer_engine_counts(struct infer_engine *e, size_t *active, size_t *pending)
{
	uv_mutex_lock(&e->mu);
	*active = e->n_active;
	*pending = e->n_pending;
	uv_mutex_unlock(&e->mu);
}

void infer_engine_stream_state(struct infer_engine *e, const struct infer_stream *st,
			       const char **state, size_t *generated)
{
	uv_mutex_lock(&e->mu);
	*state = st->state ? st->state : "queued";
	*generated = st->n_generated;
	uv_mutex_unlock(&e->mu);
}

void infer_engine_stop(struct infer_engine *e)
{
	uv_mutex_lock(&e->mu);
	e->quit = true;
	uv_cond_signal(&e->cond);
	uv_mutex_unlock(&e->mu);
}

bool infer_engine_stopped(struct infer_engine *e)
{
	uv_mutex_lock(&e->mu);
	bool exited = e->exited;
	uv_mutex_unlock(&e->mu);
	return exited;
}

static void async_closed(uv_handle_t *h)
{
	struct infer_engine *e = h->data;
	void (*done)(void *) = e->freed;
	void *arg = e->freed_arg;
	free_engine(e);
	if (done)
		done(arg);
}

void infer_engine_free(struct infer_engine *e, void (*done)(void *arg), void *arg)
{
	if (e->thread_started)
		uv_thread_join(&e->thread);   /* it has exited: at once */
	e->thread_started = false;
	e->freed = done;
	e->freed_arg = arg;
	uv_close((uv_handle_t *)&e->async, async_closed);
}

void infer_engine_settings(const struct infer_engine *e, struct infer_engine_params *p,
			   enum inf_isa *isa)
{
	*p = e->p;
	*isa = e->isa;
}

void infer_request_free(struct infer_request *r)
{
	free(r->prompt);
	for (size_t i = 0; i < r->n_msgs; i++) {
		free((char *)r->msgs[i].role);
		free((char *)r->msgs[i].content);
	}
	free(r->msgs);
	for (size_t i = 0; i < r->n_stops; i++)
		free(r->stops[i]);
	memset(r, 0, sizeof *r);
}
