/*
 * api.c: tokenizing through the model's tokenizer, evaluating batches on the
 * context's backend (one sequence, or several in one pass: inf_evaluate_batch),
 * sampling, cancel, stats, and the generate loop (prompt
 * as one batch, then one token at a time, streamed through the stop-string
 * matcher).
 */
#include <stdlib.h>
#include <string.h>

#include "model.h"

bool inf_model_has_tokenizer(const struct inf_model *m)
{
	return m->tok != NULL;
}

int inf_model_tokenize(const struct inf_model *m, const char *text, size_t len, bool add_special,
		       bool parse_special, int32_t *ids, size_t cap, size_t *n_out, char err[INF_ERR_MAX])
{
	if (!m->tok)
		return inf_fail(err, INF_EUNSUPPORTED, "%s", m->tok_err);
	char terr[INF_TEXT_ERR_MAX] = "";
	int rc = inf_tokenize(m->tok, text, len, add_special, parse_special, ids, cap, n_out, terr);
	if (rc)
		inf_fail(err, rc, "%s", terr);
	return rc;
}

int inf_model_token_piece(const struct inf_model *m, int32_t id, bool render_special, char *buf, size_t cap)
{
	if (!m->tok)
		return INF_EUNSUPPORTED;
	return inf_token_to_piece(m->tok, id, render_special, buf, cap);
}

static int check_ids(const struct inf_context *c, const struct inf_run *r, bool name_seq, char *err)
{
	for (uint32_t t = 0; t < r->n; t++)
		if (r->ids[t] < 0 || (uint32_t)r->ids[t] >= c->m->n_vocab) {
			if (name_seq)
				return inf_fail(err, INF_EINVAL,
						"seq %u: token id %d at batch position %u is out of range [0, %u)", r->seq,
						r->ids[t], t, c->m->n_vocab);
			return inf_fail(err, INF_EINVAL, "token id %d at batch position %u is out of range [0, %u)",
					r->ids[t], t, c->m->n_vocab);
		}
	return 0;
}

int inf_forward_runs(struct inf_context *c, struct inf_run *runs, uint32_t n_runs, char err[INF_ERR_MAX])
{
	for (uint32_t r = 0; r < n_runs; r++) {
		int rc = check_ids(c, &runs[r], c->p.n_seq > 1, err);
		if (rc)
			return rc;
		runs[r].pos0 = c->n_past[runs[r].seq];
		runs[r].logits = c->logits + (size_t)runs[r].seq * c->m->n_vocab;
	}
	return c->backend->forward(c->state, runs, n_runs, &c->cancel, err);
}

int inf_forward(struct inf_context *c, const int32_t *ids, uint32_t n, char err[INF_ERR_MAX])
{
	struct inf_run run = { .seq = 0, .ids = ids, .n = n };
	return inf_forward_runs(c, &run, 1, err);
}

static void count(struct inf_context *c, uint64_t n_tokens, bool gen, double ms)
{
	if (gen) {
		c->stats.n_gen_tokens += n_tokens;
		c->stats.gen_ms += ms;
	} else {
		c->stats.n_prompt_tokens += n_tokens;
		c->stats.prompt_ms += ms;
	}
}

static int evaluate(struct inf_context *c, const int32_t *ids, size_t n, char *err)
{
	if (n == 0)
		return inf_fail(err, INF_EINVAL, "empty batch");
	if (n > c->p.n_ctx - c->n_past[0])
		return inf_fail(err, INF_ECONTEXT, "a batch of %zu tokens after %u does not fit in n_ctx %u",
				n, c->n_past[0], c->p.n_ctx);
	double t0 = inf_now_ms();
	for (size_t done = 0; done < n;) {
		uint32_t chunk = (uint32_t)(n - done < INF_MAX_BATCH ? n - done : INF_MAX_BATCH);
		int rc = inf_forward(c, ids + done, chunk, err);
		if (rc)
			return rc;
		c->n_past[0] += chunk;
		done += chunk;
	}
	count(c, n, n == 1, inf_now_ms() - t0);
	return 0;
}

int inf_evaluate(struct inf_context *c, const int32_t *ids, size_t n, char err[INF_ERR_MAX])
{
	atomic_store(&c->cancel, false);
	return evaluate(c, ids, n, err);
}

int inf_evaluate_batch(struct inf_context *c, const struct inf_batch_seq *seqs, size_t n, char err[INF_ERR_MAX])
{
	atomic_store(&c->cancel, false);
	if (n == 0 || !seqs)
		return inf_fail(err, INF_EINVAL, "empty batch (no sequences)");
	/* each seq at most once, so n > n_seq names a repeated or out-of-range one below */
	struct inf_run runs[INF_MAX_SEQ];
	int32_t where[INF_MAX_SEQ];
	for (uint32_t s = 0; s < c->p.n_seq; s++)
		where[s] = -1;
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		const struct inf_batch_seq *b = &seqs[i];
		if (b->seq >= c->p.n_seq)
			return inf_fail(err, INF_EINVAL, "batch entry %zu: seq %u is out of range [0, n_seq %u)", i,
					b->seq, c->p.n_seq);
		if (where[b->seq] >= 0)
			return inf_fail(err, INF_EINVAL,
					"batch entries %d and %zu both name seq %u (each sequence at most once per batch)",
					where[b->seq], i, b->seq);
		where[b->seq] = (int32_t)i;
		if (b->n == 0 || !b->ids)
			return inf_fail(err, INF_EINVAL, "batch entry %zu: seq %u has no tokens (n %u%s)", i, b->seq,
					b->n, b->ids ? "" : ", ids NULL");
		total += b->n;
		if (total > INF_MAX_BATCH) {
			for (size_t k = i + 1; k < n; k++)
				total += seqs[k].n;
			return inf_fail(err, INF_EINVAL,
					"the batch holds %zu tokens, above INF_MAX_BATCH %u: evaluate a long prompt "
					"in chunks", total, INF_MAX_BATCH);
		}
		if (b->n > c->p.n_ctx - c->n_past[b->seq])
			return inf_fail(err, INF_ECONTEXT, "seq %u: %u tokens after %u do not fit in n_ctx %u", b->seq,
					b->n, c->n_past[b->seq], c->p.n_ctx);
		runs[i] = (struct inf_run){ .seq = b->seq, .ids = b->ids, .n = b->n };
	}
	double t0 = inf_now_ms();
	int rc = inf_forward_runs(c, runs, (uint32_t)n, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++)
		c->n_past[runs[i].seq] += runs[i].n;
	count(c, total, total == n, inf_now_ms() - t0);
	return 0;
}

const float *inf_logits(const struct inf_context *c)
{
	return c->logits;
}

uint32_t inf_n_past(const struct inf_context *c)
{
	return c->n_past[0];
}

const float *inf_seq_logits(const struct inf_context *c, uint32_t seq)
{
	return seq < c->p.n_seq ? c->logits + (size_t)seq * c->m->n_vocab : NULL;
}

uint32_t inf_seq_n_past(const struct inf_context *c, uint32_t seq)
{
	return seq < c->p.n_seq ? c->n_past[seq] : 0;
}

int inf_seq_truncate(struct inf_context *c, uint32_t seq, uint32_t n_past, char err[INF_ERR_MAX])
{
	if (seq >= c->p.n_seq)
		return inf_fail(err, INF_EINVAL, "truncate: seq %u is out of range [0, n_seq %u)", seq, c->p.n_seq);
	if (n_past > c->n_past[seq]) {
		if (c->p.n_seq > 1)
			return inf_fail(err, INF_EINVAL, "truncate seq %u to %u: only %u positions are evaluated", seq,
					n_past, c->n_past[seq]);
		return inf_fail(err, INF_EINVAL, "truncate to %u: only %u positions are evaluated", n_past,
				c->n_past[seq]);
	}
	c->n_past[seq] = n_past;
	return 0;
}

int inf_truncate(struct inf_context *c, uint32_t n_past, char err[INF_ERR_MAX])
{
	return inf_seq_truncate(c, 0, n_past, err);
}

int inf_seq_sample(struct inf_context *c, uint32_t seq, struct inf_sampler *s, const int32_t *history,
		   size_t n_history, int32_t *token)
{
	if (seq >= c->p.n_seq || c->n_past[seq] == 0)
		return INF_EINVAL;   /* no such sequence, or no logits yet */
	memcpy(c->work, c->logits + (size_t)seq * c->m->n_vocab, c->m->n_vocab * sizeof(float));
	int32_t t = inf_sampler_sample(s, c->work, history, n_history);
	if (t < 0 || (uint32_t)t >= c->m->n_vocab)
		return INF_EINVAL;
	*token = t;
	return 0;
}

int inf_sample(struct inf_context *c, struct inf_sampler *s, const int32_t *history, size_t n_history,
	       int32_t *token)
{
	return inf_seq_sample(c, 0, s, history, n_history, token);
}

void inf_cancel(struct inf_context *c)
{
	atomic_store(&c->cancel, true);
}

void inf_context_stats(const struct inf_context *c, struct inf_stats *st)
{
	*st = c->stats;
}

/* ---- generate ---- */

void inf_generate_params_default(struct inf_generate_params *p)
{
	memset(p, 0, sizeof *p);
	p->max_tokens = 128;
	inf_sampler_params_default(&p->sampling);
	p->sampling.seed = INF_SEED_CONTEXT;
}

void inf_generate_result_free(struct inf_generate_result *r)
{
	free(r->prompt_ids);
	free(r->ids);
	free(r->text);
	memset(r, 0, sizeof *r);
}

struct out_text {
	char *p;
	size_t len, cap;
};

static int append(struct out_text *o, const char *s, size_t n)
{
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 256;
		while (cap < o->len + n + 1)
			cap *= 2;
		char *q = realloc(o->p, cap);
		if (!q)
			return INF_ENOMEM;
		o->p = q;
		o->cap = cap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = 0;
	return 0;
}

int inf_model_render_chat(const struct inf_model *m, const struct inf_chat_message *msgs, size_t n,
			  char **out, const char **family, char err[INF_ERR_MAX])
{
	*out = NULL;
	*family = NULL;
	if (!m->chat_template)
		return inf_fail(err, INF_EUNSUPPORTED, "chat: the model has no chat template (tokenizer.chat_template); "
				"use a raw prompt");
	/* BOS comes from the tokenizer (add_special), so the template gets
	 * none; EOS text is the end-of-sequence token's text. */
	char eos[128] = "";
	int32_t e = m->tok ? inf_tokenizer_eos(m->tok) : -1;
	if (e >= 0) {
		int k = inf_token_to_piece(m->tok, e, true, eos, sizeof eos - 1);
		eos[k > 0 ? k : 0] = 0;
	}
	char terr[INF_TEXT_ERR_MAX] = "";
	/* as the template renders (a default system prompt of its own included) */
	int rc = inf_chat_apply_template(m->chat_template, msgs, n, true, "", eos, out, terr);
	if (rc)
		return inf_fail(err, rc, "chat: %s (raw prompts, with chat false, still work)", terr);
	*family = inf_chat_family_name(m->chat_family);
	return 0;
}

bool inf_model_token_is_eog(const struct inf_model *m, int32_t id)
{
	return m->tok && inf_tokenizer_is_eog(m->tok, id);
}

/* The prompt's text: as given, or the user turn (and system message) in the
 * model's chat template. */
static int prompt_text(const struct inf_model *m, const struct inf_generate_params *p, char **out,
		       const char **family, char *err)
{
	*family = NULL;
	if (!p->chat) {
		*out = strdup(p->prompt);
		return *out ? 0 : inf_fail(err, INF_ENOMEM, "out of memory");
	}
	struct inf_chat_message msgs[2];
	size_t n = 0;
	if (p->system)
		msgs[n++] = (struct inf_chat_message){ "system", p->system };
	msgs[n++] = (struct inf_chat_message){ "user", p->prompt };
	return inf_model_render_chat(m, msgs, n, out, family, err);
}

int inf_generate(struct inf_context *c, const struct inf_generate_params *p, struct inf_generate_result *res,
		 char err[INF_ERR_MAX])
{
	const struct inf_model *m = c->m;
	memset(res, 0, sizeof *res);
	atomic_store(&c->cancel, false);
	struct inf_sampler_params sp = p->sampling;
	if (sp.seed == INF_SEED_CONTEXT)
		sp.seed = c->p.seed;
	res->seed = sp.seed;
	if (!p->prompt)
		return inf_fail(err, INF_EINVAL, "prompt is missing");
	if (!m->tok)
		return inf_fail(err, INF_EUNSUPPORTED, "%s", m->tok_err);
	if (p->system && !p->chat)
		return inf_fail(err, INF_EINVAL, "system: a system message needs chat (the template renders it)");
	if (p->n_stops && !p->stops)
		return inf_fail(err, INF_EINVAL, "stops: n_stops is %zu but stops is NULL", p->n_stops);
	if (p->max_tokens < 1 || (uint32_t)p->max_tokens > c->p.n_ctx)
		return inf_fail(err, INF_EINVAL, "max_tokens %d is out of range [1, n_ctx %u]", p->max_tokens, c->p.n_ctx);
	char terr[INF_TEXT_ERR_MAX] = "";
	if (inf_sampler_params_check(&sp, m->n_vocab, terr))
		return inf_fail(err, INF_EINVAL, "%s", terr);
	if (p->sampling.repeat_last_n < 0 || (uint32_t)p->sampling.repeat_last_n > c->p.n_ctx)
		return inf_fail(err, INF_EINVAL, "repeat_last_n %d is out of range [0, n_ctx %u]",
				p->sampling.repeat_last_n, c->p.n_ctx);
	char *text = NULL;
	int rc = prompt_text(m, p, &text, &res->chat_family, err);
	if (rc)
		return rc;
	struct inf_sampler *s = NULL;
	struct inf_stop_matcher *stop = NULL;
	struct out_text out = { 0 };
	int32_t *hist = malloc(((size_t)c->p.n_ctx + 1) * sizeof *hist);
	if (!hist) {
		rc = inf_fail(err, INF_ENOMEM, "out of memory");
		goto done;
	}
	size_t n_prompt = 0;
	rc = inf_model_tokenize(m, text, strlen(text), true, p->chat, hist, c->p.n_ctx, &n_prompt, err);
	if (rc == INF_ERANGE) {
		rc = inf_fail(err, INF_ECONTEXT, "the prompt is %zu tokens, n_ctx is %u", n_prompt, c->p.n_ctx);
		goto done;
	}
	if (rc)
		goto done;
	if (n_prompt == 0) {
		rc = inf_fail(err, INF_EINVAL, "the prompt is empty (no tokens)");
		goto done;
	}
	if (n_prompt > c->p.n_ctx - c->n_past[0]) {
		rc = inf_fail(err, INF_ECONTEXT, "the prompt of %zu tokens after %u does not fit in n_ctx %u",
			      n_prompt, c->n_past[0], c->p.n_ctx);
		goto done;
	}
	res->n_prompt = n_prompt;
	res->prompt_ids = malloc(n_prompt * sizeof(int32_t));
	res->ids = malloc((size_t)p->max_tokens * sizeof(int32_t));
	if (!res->prompt_ids || !res->ids) {
		rc = inf_fail(err, INF_ENOMEM, "out of memory");
		goto done;
	}
	memcpy(res->prompt_ids, hist, n_prompt * sizeof(int32_t));
	if ((rc = inf_sampler_create(&sp, m->n_vocab, &s, terr)) ||
	    (rc = inf_stop_create(p->stops, p->n_stops, &stop, terr))) {
		rc = inf_fail(err, rc, "%s", terr);
		goto done;
	}
	double t0 = inf_now_ms();
	if ((rc = evaluate(c, hist, n_prompt, err)))
		goto done;
	res->prompt_ms = inf_now_ms() - t0;
	size_t n_hist = n_prompt;
	double t_first = 0;
	res->stop_reason = "max_tokens";
	for (;;) {
		int32_t tok;
		size_t lo = p->sampling.repeat_last_n && n_hist > (size_t)p->sampling.repeat_last_n
				    ? n_hist - (size_t)p->sampling.repeat_last_n : 0;
		if (inf_sample(c, s, hist + lo, n_hist - lo, &tok)) {
			rc = inf_fail(err, INF_EINVAL, "the sampler returned no token");
			goto done;
		}
		if (res->n_ids == 0) {
			t_first = inf_now_ms();
			res->ttft_ms = t_first - t0;
		}
		if (inf_tokenizer_is_eog(m->tok, tok)) {
			res->stop_reason = "eos";
			break;
		}
		res->ids[res->n_ids++] = tok;
		hist[n_hist++] = tok;
		char piece[256];
		int k = inf_token_to_piece(m->tok, tok, false, piece, sizeof piece);
		const char *emit;
		size_t emit_len;
		bool stopped = inf_stop_feed(stop, piece, k > 0 ? (size_t)k : 0, &emit, &emit_len);
		if (emit_len) {
			if (append(&out, emit, emit_len)) {
				rc = inf_fail(err, INF_ENOMEM, "out of memory");
				goto done;
			}
			if (p->on_text && p->on_text(p->user, emit, emit_len, tok)) {
				res->stop_reason = "callback";
				break;
			}
		}
		if (stopped) {
			res->stop_reason = "stop";
			break;
		}
		if (res->n_ids == (size_t)p->max_tokens)
			break;
		if (c->n_past[0] >= c->p.n_ctx) {
			res->stop_reason = "context";
			break;
		}
		if (atomic_load(&c->cancel)) {
			rc = inf_fail(err, INF_ECANCELED, "canceled");
			goto done;
		}
		if ((rc = evaluate(c, &tok, 1, err)))
			goto done;
	}
	if (strcmp(res->stop_reason, "stop") && strcmp(res->stop_reason, "callback")) {
		const char *emit;
		size_t emit_len;
		inf_stop_flush(stop, &emit, &emit_len);
		if (emit_len) {
			if (append(&out, emit, emit_len)) {
				rc = inf_fail(err, INF_ENOMEM, "out of memory");
				goto done;
			}
			if (p->on_text)
				p->on_text(p->user, emit, emit_len, -1);
		}
	}
	res->gen_ms = res->n_ids > 1 ? inf_now_ms() - t_first : 0;
	rc = 0;
done:
	if (!out.p && rc == 0 && append(&out, "", 0))
		rc = inf_fail(err, INF_ENOMEM, "out of memory");
	res->text = out.p;
	res->text_len = out.len;
	if (rc && rc != INF_ECANCELED) {
		inf_generate_result_free(res);
	} else if (rc == INF_ECANCELED) {
		res->stop_reason = "canceled";
	}
	if (s)
		inf_sampler_free(s);
	if (stop)
		inf_stop_free(stop);
	free(hist);
	free(text);
	return rc;
}
