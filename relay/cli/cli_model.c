/*
 * cli_model.c: tether model info, tether tokenize, tether generate and
 * tether logits: the inference library driven from the command line, for
 * people and for tests (docs/inference.md). Every flag is applied or
 * rejected by name; a value out of range is an error naming the flag.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "inference.h"
#include "cli.h"

#define MAX_STOPS 16
#define STDIN_MAX (64u << 20)

/* Every option of every model command; each command says which it takes. */
struct opts {
	const char *cmd;
	const char *model, *text, *prompt, *system, *ids, *isa, *kv_type, *runtime_dir;
	const char *stops[MAX_STOPS];
	size_t n_stops;
	bool json, chat, no_special, parse_special, daemon;
	const char *seen[64];                /* the options given, as written (--daemon maps them) */
	size_t n_seen;
	long ctx, threads, top, max_tokens;
	struct inf_sampler_params sp;
	bool seed_set;
};

static bool parse_double(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !isfinite(v))
		return false;
	*out = v;
	return true;
}

/* allowed: the flags this command takes, each with a space before and
 * after (" --model --json "). */
static int parse(int argc, char **argv, const char *allowed, struct opts *o)
{
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		char key[64];
		/* whole words only: " --top " is not inside " --top-k " */
		snprintf(key, sizeof key, " %s ", a);
		if (strncmp(a, "--", 2) || strlen(a) > 40 || !strstr(allowed, key))
			return cli_usage_error(o->cmd, "unknown option '%s'", a);
		if (o->n_seen == sizeof o->seen / sizeof *o->seen)
			return cli_usage_error(o->cmd, "more than 64 options (at '%s')", a);
		o->seen[o->n_seen++] = a;
		bool flag = !strcmp(a, "--json") || !strcmp(a, "--chat") || !strcmp(a, "--no-special") ||
			    !strcmp(a, "--parse-special") || !strcmp(a, "--daemon");
		if (flag) {
			if (!strcmp(a, "--json")) o->json = true;
			else if (!strcmp(a, "--chat")) o->chat = true;
			else if (!strcmp(a, "--daemon")) o->daemon = true;
			else if (!strcmp(a, "--no-special")) o->no_special = true;
			else o->parse_special = true;
			continue;
		}
		if (i + 1 >= argc)
			return cli_usage_error(o->cmd, "option %s needs a value", a);
		const char *v = argv[++i];
		double d;
		long l;
		if (!strcmp(a, "--model")) o->model = v;
		else if (!strcmp(a, "--text")) o->text = v;
		else if (!strcmp(a, "--prompt")) o->prompt = v;
		else if (!strcmp(a, "--system")) o->system = v;
		else if (!strcmp(a, "--ids")) o->ids = v;
		else if (!strcmp(a, "--isa")) o->isa = v;
		else if (!strcmp(a, "--kv-type")) o->kv_type = v;
		else if (!strcmp(a, "--runtime-dir")) {
			if (!*v || strlen(v) >= 100)
				return cli_usage_error(o->cmd, "--runtime-dir '%s' is empty or too long", v);
			o->runtime_dir = v;
		} else if (!strcmp(a, "--stop")) {
			if (o->n_stops == MAX_STOPS || !*v)
				return cli_usage_error(o->cmd, "--stop: at most 16 stop strings, none empty ('%s')", v);
			o->stops[o->n_stops++] = v;
		} else if (!strcmp(a, "--ctx")) {
			if (!cli_parse_long(v, 1, 1 << 24, &o->ctx))
				return cli_usage_error(o->cmd, "--ctx '%s' is not an integer in [1, 16777216]", v);
		} else if (!strcmp(a, "--threads")) {
			if (!cli_parse_long(v, 1, 256, &o->threads))
				return cli_usage_error(o->cmd, "--threads '%s' is not an integer in [1, 256]", v);
		} else if (!strcmp(a, "--top")) {
			if (!cli_parse_long(v, 1, 1 << 22, &o->top))
				return cli_usage_error(o->cmd, "--top '%s' is not an integer in [1, 4194304]", v);
		} else if (!strcmp(a, "--max-tokens")) {
			if (!cli_parse_long(v, 1, 1 << 24, &o->max_tokens))
				return cli_usage_error(o->cmd, "--max-tokens '%s' is not a positive integer", v);
		} else if (!strcmp(a, "--top-k")) {
			if (!cli_parse_long(v, 0, INT32_MAX, &l))
				return cli_usage_error(o->cmd, "--top-k '%s' is not a non-negative integer", v);
			o->sp.top_k = (int32_t)l;
		} else if (!strcmp(a, "--repeat-last-n")) {
			if (!cli_parse_long(v, 0, INT32_MAX, &l))
				return cli_usage_error(o->cmd, "--repeat-last-n '%s' is not a non-negative integer", v);
			o->sp.repeat_last_n = (int32_t)l;
		} else if (!strcmp(a, "--seed")) {
			char *end;
			errno = 0;
			unsigned long long s = strtoull(v, &end, 10);
			if (errno || end == v || *end || *v == '-')
				return cli_usage_error(o->cmd, "--seed '%s' is not an unsigned integer", v);
			o->sp.seed = s;
			o->seed_set = true;
		} else {
			if (!parse_double(v, &d))
				return cli_usage_error(o->cmd, "%s needs a number", a);
			if (!strcmp(a, "--temperature")) o->sp.temperature = d;
			else if (!strcmp(a, "--top-p")) o->sp.top_p = d;
			else if (!strcmp(a, "--min-p")) o->sp.min_p = d;
			else if (!strcmp(a, "--repeat-penalty")) o->sp.repeat_penalty = d;
			else if (!strcmp(a, "--frequency-penalty")) o->sp.frequency_penalty = d;
			else if (!strcmp(a, "--presence-penalty")) o->sp.presence_penalty = d;
			else return cli_usage_error(o->cmd, "unknown option '%s'", a);
		}
	}
	if (!o->model)
		return cli_usage_error(o->cmd, "%s is required", "--model");
	if (o->kv_type && strcmp(o->kv_type, "f16") && strcmp(o->kv_type, "f32"))
		return cli_usage_error(o->cmd, "--kv-type '%s' is not f16 or f32", o->kv_type);
	return 0;
}

static enum inf_kv_type kv_type_of(const struct opts *o)
{
	return o->kv_type && !strcmp(o->kv_type, "f32") ? INF_KV_F32 : INF_KV_F16;
}

static void progress(double fraction, void *user)
{
	(void)user;
	int w = 40, n = (int)(fraction * w);
	fprintf(stderr, "\rloading [%.*s%*s] %3d%%", n, "========================================", w - n, "",
		(int)(fraction * 100));
	if (fraction >= 1)
		fprintf(stderr, "\r%*s\r", w + 20, "");
	fflush(stderr);
}

static int load(const struct opts *o, bool prefault, struct inf_model **m)
{
	struct inf_model_options mo = { .prefault = prefault, .vocab_only = !strcmp(o->cmd, "tokenize") };
	struct stat st;
	if (prefault && isatty(STDERR_FILENO) && !stat(o->model, &st) && st.st_size > (64 << 20))
		mo.progress = progress;
	char err[INF_ERR_MAX];
	if (inf_model_load(o->model, &mo, m, err)) {
		fprintf(stderr, "tether %s: %s\n", o->cmd, err);
		/* a file without tensors: say which commands work on it */
		struct inf_model_options vo = { .vocab_only = true };
		struct inf_model_info vi;
		if (!mo.vocab_only && !inf_model_load(o->model, &vo, m, err)) {
			inf_model_get_info(*m, &vi);
			if (vi.n_tensors == 0)
				fprintf(stderr, "tether %s: tether tokenize and tether model info work on it\n", o->cmd);
			inf_model_free(*m);
		}
		*m = NULL;
		return 1;
	}
	return 0;
}

static int make_context(const struct opts *o, struct inf_model *m, struct inf_context **c)
{
	struct inf_context_params p;
	inf_context_params_default(&p);
	p.n_ctx = (uint32_t)o->ctx;
	p.n_threads = (uint32_t)o->threads;
	p.seed = o->sp.seed;
	p.kv_type = kv_type_of(o);
	if (o->isa) {
		if (!strcmp(o->isa, "auto")) p.isa = INF_ISA_AUTO;
		else if (!strcmp(o->isa, "portable")) p.isa = INF_ISA_PORTABLE;
		else if (!strcmp(o->isa, "avx2")) p.isa = INF_ISA_AVX2;
		else if (!strcmp(o->isa, "avx512")) p.isa = INF_ISA_AVX512;
		else
			return cli_usage_error(o->cmd, "--isa '%s' is not auto, portable, avx2 or avx512", o->isa);
	}
	char err[INF_ERR_MAX];
	if (inf_context_create(m, &p, c, err)) {
		fprintf(stderr, "tether %s: %s\n", o->cmd, err);
		return 1;
	}
	return 0;
}

/* JSON strings must be UTF-8: generated text and pieces may not be (a token
 * can end inside a character, a random model emits any bytes), so each
 * invalid byte becomes U+FFFD. Returns a malloc'd string. */
static char *utf8_clean(const char *s, size_t n)
{
	char *out = malloc(3 * n + 1), *o = out;
	if (!out)
		return NULL;
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	while (p < end) {
		unsigned c = *p, len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
		bool ok = len && (size_t)(end - p) >= len;
		uint32_t cp = len == 1 ? c : len == 2 ? c & 0x1f : len == 3 ? c & 0x0f : c & 0x07;
		for (unsigned k = 1; ok && k < len; k++) {
			ok = (p[k] & 0xc0) == 0x80;
			cp = cp << 6 | (p[k] & 0x3f);
		}
		if (ok && ((len == 2 && cp < 0x80) || (len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp < 0xe000))) ||
			   (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (len == 1 && c == 0)))
			ok = false;
		if (ok) {
			memcpy(o, p, len);
			o += len;
			p += len;
		} else {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			p++;
		}
	}
	*o = 0;
	return out;
}

static void add_text(cJSON *j, const char *key, const char *s, size_t n)
{
	char *c = utf8_clean(s, n);
	cJSON_AddStringToObject(j, key, c ? c : "");
	free(c);
}

static void print_json(cJSON *j)
{
	char *s = cJSON_PrintUnformatted(j);
	if (s)
		printf("%s\n", s);
	free(s);
	cJSON_Delete(j);
}

/* ---- tether model info ---- */

static int model_info_vocab(const struct opts *o, struct inf_model *m)
{
	struct inf_model_info i;
	inf_model_get_info(m, &i);
	if (o->ctx) {
		inf_model_free(m);
		return cli_usage_error(o->cmd, "--ctx: %s has no weights (a vocabulary-only file), so no context to size",
				       o->model);
	}
	if (o->json) {
		cJSON *j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "architecture", i.arch);
		cJSON_AddStringToObject(j, "name", i.name);
		cJSON_AddNumberToObject(j, "gguf_version", i.gguf_version);
		cJSON_AddBoolToObject(j, "vocab_only", true);
		cJSON_AddNumberToObject(j, "n_tensors", 0);
		cJSON_AddNumberToObject(j, "n_vocab", i.n_vocab);
		cJSON_AddNumberToObject(j, "file_bytes", (double)i.file_bytes);
		cJSON_AddStringToObject(j, "tokenizer", i.tokenizer_model);
		cJSON_AddBoolToObject(j, "tokenizer_ok", inf_model_has_tokenizer(m));
		if (*i.tokenizer_error)
			cJSON_AddStringToObject(j, "tokenizer_error", i.tokenizer_error);
		cJSON_AddStringToObject(j, "chat_template", i.has_chat_template ? i.chat_family : "none");
		print_json(j);
	} else {
		printf("architecture   %s\nname           %s\ngguf version   %u\n", *i.arch ? i.arch : "(absent)",
		       i.name, i.gguf_version);
		printf("tensors        none: a vocabulary-only file (tokenize works; generate and logits do not)\n");
		printf("vocabulary     %u (%s)\n", i.n_vocab, i.tokenizer_model);
		if (!inf_model_has_tokenizer(m))
			printf("               not usable: %s\n", i.tokenizer_error);
		printf("chat template  %s\n", i.has_chat_template ? i.chat_family : "none");
	}
	inf_model_free(m);
	return 0;
}

static int model_info(int argc, char **argv)
{
	struct opts o = { .cmd = "model info" };
	int rc = parse(argc, argv, " --model --json --ctx --kv-type ", &o);
	if (rc)
		return rc;
	struct inf_model *m;
	char err[INF_ERR_MAX], verr[INF_ERR_MAX];
	struct inf_model_options mo = { 0 };
	if (inf_model_load(o.model, &mo, &m, err)) {
		/* A vocabulary-only file (no tensors, as llama.cpp's ggml-vocab-*
		 * files) still has a tokenizer to describe. */
		struct inf_model_options vo = { .vocab_only = true };
		struct inf_model_info vi;
		if (inf_model_load(o.model, &vo, &m, verr) ||
		    (inf_model_get_info(m, &vi), vi.n_tensors != 0)) {
			inf_model_free(m);
			fprintf(stderr, "tether %s: %s\n", o.cmd, err);
			return 1;
		}
		return model_info_vocab(&o, m);
	}
	struct inf_model_info i;
	inf_model_get_info(m, &i);
	uint32_t n_ctx = o.ctx ? (uint32_t)o.ctx : (i.n_ctx_train < 4096 ? i.n_ctx_train : 4096);
	uint64_t ctx_bytes = inf_context_bytes(m, n_ctx, kv_type_of(&o));
	if (o.json) {
		cJSON *j = cJSON_CreateObject(), *types = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "architecture", i.arch);
		cJSON_AddStringToObject(j, "name", i.name);
		cJSON_AddNumberToObject(j, "gguf_version", i.gguf_version);
		cJSON_AddBoolToObject(j, "vocab_only", false);
		cJSON_AddNumberToObject(j, "n_tensors", (double)i.n_tensors);
		cJSON_AddNumberToObject(j, "n_vocab", i.n_vocab);
		cJSON_AddNumberToObject(j, "dim", i.dim);
		cJSON_AddNumberToObject(j, "n_layer", i.n_layer);
		cJSON_AddNumberToObject(j, "n_head", i.n_head);
		cJSON_AddNumberToObject(j, "n_head_kv", i.n_head_kv);
		cJSON_AddNumberToObject(j, "head_dim", i.head_dim);
		cJSON_AddNumberToObject(j, "ffn_dim", i.ffn_dim);
		cJSON_AddNumberToObject(j, "n_ctx_train", i.n_ctx_train);
		cJSON_AddNumberToObject(j, "rope_dim", i.n_rot);
		cJSON_AddNumberToObject(j, "rope_freq_base", i.rope_freq_base);
		cJSON_AddNumberToObject(j, "rope_freq_scale", i.rope_freq_scale);
		cJSON_AddBoolToObject(j, "rope_freqs", i.rope_freqs);
		cJSON_AddNumberToObject(j, "rms_eps", i.rms_eps);
		cJSON_AddBoolToObject(j, "tied_output", i.tied_output);
		cJSON_AddNumberToObject(j, "n_params", (double)i.n_params);
		cJSON_AddNumberToObject(j, "weight_bytes", (double)i.weight_bytes);
		cJSON_AddNumberToObject(j, "file_bytes", (double)i.file_bytes);
		for (int t = 0; t < INF_N_TYPES; t++)
			if (i.type_counts[t])
				cJSON_AddNumberToObject(types, inf_type_name((uint32_t)t), i.type_counts[t]);
		cJSON_AddItemToObject(j, "tensor_types", types);
		cJSON_AddStringToObject(j, "tokenizer", i.tokenizer_model);
		cJSON_AddBoolToObject(j, "tokenizer_ok", inf_model_has_tokenizer(m));
		if (*i.tokenizer_error)
			cJSON_AddStringToObject(j, "tokenizer_error", i.tokenizer_error);
		cJSON_AddStringToObject(j, "chat_template", i.has_chat_template ? i.chat_family : "none");
		cJSON_AddNumberToObject(j, "n_ctx", n_ctx);
		cJSON_AddNumberToObject(j, "context_bytes", (double)ctx_bytes);
		cJSON_AddStringToObject(j, "kv_type", inf_kv_type_name(kv_type_of(&o)));
		cJSON_AddBoolToObject(j, "n_ctx_above_trained", n_ctx > i.n_ctx_train);
		cJSON *b = cJSON_AddObjectToObject(j, "backend"), *nc = cJSON_CreateArray();
		cJSON_AddStringToObject(b, "name", i.backend.name);
		cJSON_AddStringToObject(b, "isa", i.backend.isa);
		for (uint32_t k = 0; k < i.backend.n_not_chosen; k++) {
			cJSON *e = cJSON_CreateObject();
			cJSON_AddStringToObject(e, "name", i.backend.not_chosen[k].name);
			cJSON_AddStringToObject(e, "reason", i.backend.not_chosen[k].reason);
			cJSON_AddItemToArray(nc, e);
		}
		cJSON_AddItemToObject(b, "not_chosen", nc);
		print_json(j);
	} else {
		printf("architecture   %s\nname           %s\ngguf version   %u\n", i.arch, i.name, i.gguf_version);
		printf("parameters     %llu (%.1f MiB of tensor data)\n", (unsigned long long)i.n_params,
		       i.weight_bytes / 1048576.0);
		printf("dims           dim %u, layers %u, heads %u (kv %u, head dim %u), ffn %u\n", i.dim,
		       i.n_layer, i.n_head, i.n_head_kv, i.head_dim, i.ffn_dim);
		printf("vocabulary     %u (%s)\n", i.n_vocab, *i.tokenizer_model ? i.tokenizer_model : "no tokenizer");
		if (*i.tokenizer_model && !inf_model_has_tokenizer(m))
			printf("               not usable: %s\n", i.tokenizer_error);
		printf("context        trained %u; rope dim %u, base %g, scale %g%s\n", i.n_ctx_train, i.n_rot,
		       i.rope_freq_base, i.rope_freq_scale, i.rope_freqs ? ", rope_freqs" : "");
		printf("tensor types  ");
		for (int t = 0; t < INF_N_TYPES; t++)
			if (i.type_counts[t])
				printf(" %s x%u", inf_type_name((uint32_t)t), i.type_counts[t]);
		printf("\nchat template  %s\n", i.has_chat_template ? i.chat_family : "none");
		printf("memory         %.1f MiB for n_ctx %u (%s KV cache and scratch; weights are mapped)\n",
		       ctx_bytes / 1048576.0, n_ctx, inf_kv_type_name(kv_type_of(&o)));
		if (n_ctx > i.n_ctx_train)
			printf("               n_ctx %u is above the trained %u: a context of it is refused\n", n_ctx,
			       i.n_ctx_train);
		printf("backend        %s (isa %s)", i.backend.name, i.backend.isa);
		for (uint32_t k = 0; k < i.backend.n_not_chosen; k++)
			printf("%s %s: %s", k ? ";" : "; not chosen:", i.backend.not_chosen[k].name,
			       i.backend.not_chosen[k].reason);
		printf("\n");
	}
	inf_model_free(m);
	return 0;
}

static int cmd_model(int argc, char **argv)
{
	if (argc >= 1 && !strcmp(argv[0], "info"))
		return model_info(argc - 1, argv + 1);
	return cli_usage_error("model", "unknown subcommand '%s' (model info)", argc ? argv[0] : "");
}

/* ---- tether tokenize ---- */

static char *read_stdin(size_t *len)
{
	size_t cap = 4096, n = 0;
	char *p = malloc(cap);
	while (p) {
		if (n + 1 >= cap) {
			if (cap >= STDIN_MAX) {
				free(p);
				return NULL;
			}
			char *q = realloc(p, cap * 2);
			if (!q)
				break;
			p = q;
			cap *= 2;
		}
		ssize_t r = read(STDIN_FILENO, p + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	if (p)
		p[n] = 0;
	*len = n;
	return p;
}

static int tokenize_text(const struct opts *o, struct inf_model *m, const char *text, size_t len, bool parse_special,
			 int32_t **ids, size_t *n)
{
	char err[INF_ERR_MAX];
	size_t cap = len + 16;
	*ids = malloc(cap * sizeof **ids);
	if (!*ids)
		return 1;
	int rc = inf_model_tokenize(m, text, len, !o->no_special, parse_special, *ids, cap, n, err);
	if (rc == INF_ERANGE) {
		int32_t *q = realloc(*ids, *n * sizeof **ids);
		if (!q)
			return 1;
		*ids = q;
		rc = inf_model_tokenize(m, text, len, !o->no_special, parse_special, *ids, *n, n, err);
	}
	if (rc) {
		fprintf(stderr, "tether %s: %s\n", o->cmd, err);
		return 1;
	}
	return 0;
}

static int cmd_tokenize(int argc, char **argv)
{
	struct opts o = { .cmd = "tokenize" };
	int rc = parse(argc, argv, " --model --text --json --no-special --parse-special ", &o);
	if (rc)
		return rc;
	size_t len;
	char *in = NULL;
	if (o.text) {
		len = strlen(o.text);
	} else if (!(in = read_stdin(&len))) {
		fprintf(stderr, "tether tokenize: cannot read stdin (at most %u bytes)\n", STDIN_MAX);
		return 1;
	}
	struct inf_model *m;
	if (load(&o, false, &m)) {
		free(in);
		return 1;
	}
	int32_t *ids = NULL;
	size_t n = 0;
	rc = tokenize_text(&o, m, o.text ? o.text : in, len, o.parse_special, &ids, &n);
	if (!rc) {
		if (o.json) {
			cJSON *j = cJSON_CreateObject(), *a = cJSON_CreateArray(), *pcs = cJSON_CreateArray();
			for (size_t i = 0; i < n; i++) {
				char piece[512];
				int k = inf_model_token_piece(m, ids[i], true, piece, sizeof piece - 1);
				char *clean = utf8_clean(piece, k > 0 ? (size_t)k : 0);
				cJSON_AddItemToArray(a, cJSON_CreateNumber(ids[i]));
				cJSON_AddItemToArray(pcs, cJSON_CreateString(clean ? clean : ""));
				free(clean);
			}
			cJSON_AddItemToObject(j, "ids", a);
			cJSON_AddItemToObject(j, "pieces", pcs);
			cJSON_AddNumberToObject(j, "n_tokens", (double)n);
			print_json(j);
		} else {
			for (size_t i = 0; i < n; i++)
				printf("%s%d", i ? " " : "", ids[i]);
			printf("\n");
		}
	}
	free(ids);
	free(in);
	inf_model_free(m);
	return rc;
}

/* ---- tether generate ---- */

static int stream(void *user, const char *text, size_t len, int32_t token)
{
	(void)user;
	(void)token;
	fwrite(text, 1, len, stdout);
	fflush(stdout);
	return 0;
}

static bool given(const struct opts *o, const char *flag)
{
	for (size_t i = 0; i < o->n_seen; i++)
		if (!strcmp(o->seen[i], flag))
			return true;
	return false;
}

/* The daemon's id of a model named by --model: the id itself, or for a
 * path (or a name ending in .gguf) the file's name without .gguf, as
 * tetherd names the files it finds. */
static void daemon_model_id(const char *model, char *out, size_t len)
{
	const char *base = strrchr(model, '/');
	base = base ? base + 1 : model;
	size_t n = strlen(base);
	if (n > 5 && !strcasecmp(base + n - 5, ".gguf"))
		n -= 5;
	snprintf(out, len, "%.*s", (int)n, base);
}

/* tether generate --daemon: the same flags as an infer.generate (or with
 * --chat an infer.chat) request to the running tetherd. Every flag maps to
 * a member or is refused by name; the defaults that differ are sent (128
 * tokens, as in process) or documented (the seed: tetherd picks one and
 * reports it). */
static int generate_daemon(const struct opts *o)
{
	/* the context's ISA is tetherd's choice when it loads the model */
	if (o->isa)
		return cli_usage_error(o->cmd, "%s cannot be used with --daemon: tetherd picks the ISA when "
				       "it loads the model (tether status shows it)", "--isa");
	if (o->n_stops > 8)
		return cli_usage_error(o->cmd, "%s: tetherd takes at most 8 stop strings (--daemon)", "--stop");
	for (size_t i = 0; i < o->n_stops; i++)
		if (strlen(o->stops[i]) > 256)
			return cli_usage_error(o->cmd, "--stop '%s' is longer than the 256 bytes tetherd takes "
					       "(--daemon)", o->stops[i]);
	if (o->seed_set && o->sp.seed > (1ull << 53) - 1)
		return cli_usage_error(o->cmd, "%s is above 9007199254740991, the largest tetherd takes "
				       "(--daemon)", "--seed");
	char id[256];
	daemon_model_id(o->model, id, sizeof id);
	cJSON *req = cJSON_CreateObject();
	cJSON_AddStringToObject(req, "type", o->chat ? "infer.chat" : "infer.generate");
	cJSON_AddStringToObject(req, "model", id);
	if (o->chat) {
		cJSON *msgs = cJSON_AddArrayToObject(req, "messages"), *m;
		if (o->system) {
			cJSON_AddItemToArray(msgs, m = cJSON_CreateObject());
			cJSON_AddStringToObject(m, "role", "system");
			cJSON_AddStringToObject(m, "content", o->system);
		}
		cJSON_AddItemToArray(msgs, m = cJSON_CreateObject());
		cJSON_AddStringToObject(m, "role", "user");
		cJSON_AddStringToObject(m, "content", o->prompt);
	} else {
		cJSON_AddStringToObject(req, "prompt", o->prompt);
	}
	struct inf_generate_params dp;
	inf_generate_params_default(&dp);
	cJSON_AddNumberToObject(req, "max_tokens", o->max_tokens ? (double)o->max_tokens : dp.max_tokens);
	static const struct { const char *flag, *field; } nums[] = {
		{ "--temperature", "temperature" }, { "--top-k", "top_k" }, { "--top-p", "top_p" },
		{ "--min-p", "min_p" }, { "--repeat-penalty", "repeat_penalty" },
		{ "--repeat-last-n", "repeat_last_n" }, { "--frequency-penalty", "frequency_penalty" },
		{ "--presence-penalty", "presence_penalty" },
	};
	const double values[] = { o->sp.temperature, o->sp.top_k, o->sp.top_p, o->sp.min_p,
				  o->sp.repeat_penalty, o->sp.repeat_last_n, o->sp.frequency_penalty,
				  o->sp.presence_penalty };
	for (size_t i = 0; i < sizeof nums / sizeof *nums; i++)
		if (given(o, nums[i].flag))
			cJSON_AddNumberToObject(req, nums[i].field, values[i]);
	if (o->seed_set)
		relay_json_set_integer(req, "seed", o->sp.seed);
	if (o->n_stops) {
		cJSON *stops = cJSON_AddArrayToObject(req, "stop");
		for (size_t i = 0; i < o->n_stops; i++)
			cJSON_AddItemToArray(stops, cJSON_CreateString(o->stops[i]));
	}
	/* the load members: they apply when this request loads the model */
	if (o->ctx)
		cJSON_AddNumberToObject(req, "ctx", (double)o->ctx);
	if (o->threads)
		cJSON_AddNumberToObject(req, "threads", (double)o->threads);
	if (o->kv_type)
		cJSON_AddStringToObject(req, "kv_type", o->kv_type);
	int rc = cli_daemon_generate(o->runtime_dir, req, o->json);
	cJSON_Delete(req);
	return rc;
}

static int cmd_generate(int argc, char **argv)
{
	struct opts o = { .cmd = "generate" };
	inf_sampler_params_default(&o.sp);
	int rc = parse(argc, argv,
		       " --model --prompt --chat --system --max-tokens --temperature --top-k --top-p --min-p "
		       "--repeat-penalty --repeat-last-n --frequency-penalty --presence-penalty --seed --stop "
		       "--threads --ctx --isa --kv-type --json --daemon --runtime-dir ", &o);
	if (rc)
		return rc;
	if (!o.prompt)
		return cli_usage_error(o.cmd, "%s is required", "--prompt");
	if (o.system && !o.chat)
		return cli_usage_error(o.cmd, "%s needs --chat", "--system");
	if (o.daemon)
		return generate_daemon(&o);
	if (o.runtime_dir)
		return cli_usage_error(o.cmd, "%s needs --daemon (it names the tetherd to ask)", "--runtime-dir");
	struct inf_model *m;
	struct inf_context *c = NULL;
	if (load(&o, true, &m))
		return 1;
	if ((rc = make_context(&o, m, &c))) {
		inf_model_free(m);
		return rc;
	}
	struct inf_generate_params p;
	inf_generate_params_default(&p);
	p.prompt = o.prompt;
	p.chat = o.chat;
	p.system = o.system;
	if (o.max_tokens)
		p.max_tokens = (int32_t)o.max_tokens;
	p.sampling = o.sp;
	p.stops = o.stops;
	p.n_stops = o.n_stops;
	p.on_text = o.json ? NULL : stream;
	struct inf_generate_result r;
	char err[INF_ERR_MAX];
	rc = inf_generate(c, &p, &r, err);
	if (rc && rc != INF_ECANCELED) {
		fprintf(stderr, "tether generate: %s\n", err);
		if (o.chat && !strncmp(err, "chat: ", 6))   /* the template failed */
			fprintf(stderr, "tether generate: without --chat the prompt is used as it is\n");
		inf_context_free(c);
		inf_model_free(m);
		return 1;
	}
	struct inf_context_params cp;
	inf_context_get_params(c, &cp);
	if (o.json) {
		cJSON *j = cJSON_CreateObject(), *ids = cJSON_CreateArray(), *pids = cJSON_CreateArray();
		cJSON *set = cJSON_CreateObject(), *t = cJSON_CreateObject(), *stops = cJSON_CreateArray();
		for (size_t i = 0; i < r.n_prompt; i++)
			cJSON_AddItemToArray(pids, cJSON_CreateNumber(r.prompt_ids[i]));
		for (size_t i = 0; i < r.n_ids; i++)
			cJSON_AddItemToArray(ids, cJSON_CreateNumber(r.ids[i]));
		add_text(j, "text", r.text, r.text_len);
		cJSON_AddItemToObject(j, "ids", ids);
		cJSON_AddItemToObject(j, "prompt_ids", pids);
		cJSON_AddStringToObject(j, "stop_reason", r.stop_reason);
		cJSON_AddBoolToObject(set, "chat", o.chat);
		cJSON_AddStringToObject(set, "chat_template", r.chat_family ? r.chat_family : "none");
		cJSON_AddNumberToObject(set, "max_tokens", p.max_tokens);
		cJSON_AddNumberToObject(set, "temperature", p.sampling.temperature);
		cJSON_AddNumberToObject(set, "top_k", p.sampling.top_k);
		cJSON_AddNumberToObject(set, "top_p", p.sampling.top_p);
		cJSON_AddNumberToObject(set, "min_p", p.sampling.min_p);
		cJSON_AddNumberToObject(set, "repeat_penalty", p.sampling.repeat_penalty);
		cJSON_AddNumberToObject(set, "repeat_last_n", p.sampling.repeat_last_n);
		cJSON_AddNumberToObject(set, "frequency_penalty", p.sampling.frequency_penalty);
		cJSON_AddNumberToObject(set, "presence_penalty", p.sampling.presence_penalty);
		relay_json_set_integer(set, "seed", r.seed);
		for (size_t i = 0; i < o.n_stops; i++)
			cJSON_AddItemToArray(stops, cJSON_CreateString(o.stops[i]));
		cJSON_AddItemToObject(set, "stop", stops);
		cJSON_AddNumberToObject(set, "n_ctx", cp.n_ctx);
		cJSON_AddNumberToObject(set, "threads", cp.n_threads);
		cJSON_AddStringToObject(set, "isa", inf_isa_name(cp.isa));
		cJSON_AddStringToObject(set, "kv_type", inf_kv_type_name(cp.kv_type));
		cJSON_AddItemToObject(j, "settings", set);
		cJSON_AddNumberToObject(t, "ttft_ms", r.ttft_ms);
		cJSON_AddNumberToObject(t, "prompt_ms", r.prompt_ms);
		cJSON_AddNumberToObject(t, "prompt_tokens_per_s", r.prompt_ms > 0 ? r.n_prompt / (r.prompt_ms / 1e3) : 0);
		cJSON_AddNumberToObject(t, "gen_ms", r.gen_ms);
		cJSON_AddNumberToObject(t, "gen_tokens_per_s",
					r.gen_ms > 0 && r.n_ids > 1 ? (r.n_ids - 1) / (r.gen_ms / 1e3) : 0);
		cJSON_AddItemToObject(j, "timings", t);
		print_json(j);
	} else {
		printf("\n");
	}
	inf_generate_result_free(&r);
	inf_context_free(c);
	inf_model_free(m);
	return 0;
}

/* ---- tether logits ---- */

static int parse_ids(const char *s, int32_t **ids, size_t *n)
{
	size_t cap = 1;
	for (const char *p = s; *p; p++)
		cap += *p == ',';
	*ids = malloc(cap * sizeof **ids);
	*n = 0;
	if (!*ids)
		return -1;
	const char *p = s;
	for (;;) {
		char *end;
		errno = 0;
		long v = strtol(p, &end, 10);
		if (errno || end == p || v < 0 || v > INT32_MAX || (*end && *end != ','))
			return -1;
		(*ids)[(*n)++] = (int32_t)v;
		if (!*end)
			return 0;
		p = end + 1;
	}
}

struct ranked { int32_t id; float logit; };

static int cmp_ranked(const void *a, const void *b)
{
	const struct ranked *x = a, *y = b;
	if (x->logit != y->logit)
		return x->logit > y->logit ? -1 : 1;
	return x->id - y->id;
}

static int cmd_logits(int argc, char **argv)
{
	struct opts o = { .cmd = "logits" };
	int rc = parse(argc, argv, " --model --prompt --ids --top --json --threads --ctx --isa --kv-type --no-special "
			       "--parse-special ", &o);
	if (rc)
		return rc;
	if (!o.prompt == !o.ids)
		return cli_usage_error(o.cmd, "give one of %s", "--prompt or --ids");
	if (!o.top)
		o.top = 10;
	struct inf_model *m;
	struct inf_context *c = NULL;
	if (load(&o, true, &m))
		return 1;
	int32_t *ids = NULL;
	size_t n = 0;
	if (o.ids ? parse_ids(o.ids, &ids, &n) : tokenize_text(&o, m, o.prompt, strlen(o.prompt), o.parse_special, &ids, &n)) {
		if (o.ids)
			rc = cli_usage_error(o.cmd, "--ids '%s' is not a comma-separated list of token ids", o.ids);
		else
			rc = 1;
		goto out;
	}
	if (n == 0) {
		fprintf(stderr, "tether logits: the prompt has no tokens\n");
		rc = 1;
		goto out;
	}
	if ((rc = make_context(&o, m, &c)))
		goto out;
	char err[INF_ERR_MAX];
	if (inf_evaluate(c, ids, n, err)) {
		fprintf(stderr, "tether logits: %s\n", err);
		rc = 1;
		goto out;
	}
	struct inf_model_info info;
	inf_model_get_info(m, &info);
	const float *lg = inf_logits(c);
	struct ranked *r = malloc(info.n_vocab * sizeof *r);
	if (!r) {
		rc = 1;
		goto out;
	}
	for (uint32_t i = 0; i < info.n_vocab; i++)
		r[i] = (struct ranked){ (int32_t)i, lg[i] };
	qsort(r, info.n_vocab, sizeof *r, cmp_ranked);
	uint32_t k = o.top < (long)info.n_vocab ? (uint32_t)o.top : info.n_vocab;
	struct inf_context_params cp;
	inf_context_get_params(c, &cp);
	if (o.json) {
		cJSON *j = cJSON_CreateObject(), *a = cJSON_CreateArray(), *pids = cJSON_CreateArray();
		for (size_t i = 0; i < n; i++)
			cJSON_AddItemToArray(pids, cJSON_CreateNumber(ids[i]));
		for (uint32_t i = 0; i < k; i++) {
			cJSON *e = cJSON_CreateObject();
			char piece[512];
			int pl = inf_model_token_piece(m, r[i].id, true, piece, sizeof piece - 1);
			piece[pl > 0 ? pl : 0] = 0;
			cJSON_AddNumberToObject(e, "id", r[i].id);
			cJSON_AddNumberToObject(e, "logit", r[i].logit);
			if (pl >= 0)
				add_text(e, "piece", piece, (size_t)pl);
			cJSON_AddItemToArray(a, e);
		}
		cJSON_AddItemToObject(j, "prompt_ids", pids);
		cJSON_AddItemToObject(j, "top", a);
		cJSON_AddNumberToObject(j, "n_vocab", info.n_vocab);
		cJSON_AddStringToObject(j, "isa", inf_isa_name(cp.isa));
		cJSON_AddStringToObject(j, "kv_type", inf_kv_type_name(cp.kv_type));
		cJSON_AddNumberToObject(j, "threads", cp.n_threads);
		cJSON_AddNumberToObject(j, "n_ctx", cp.n_ctx);
		print_json(j);
	} else {
		for (uint32_t i = 0; i < k; i++)
			printf("%8d %12.6f\n", r[i].id, r[i].logit);
	}
	free(r);
	rc = 0;
out:
	free(ids);
	inf_context_free(c);
	inf_model_free(m);
	return rc;
}

int relay_cli_model(int argc, char **argv)
{
	return cmd_model(argc, argv);
}

int relay_cli_tokenize(int argc, char **argv)
{
	return cmd_tokenize(argc, argv);
}

int relay_cli_generate(int argc, char **argv)
{
	return cmd_generate(argc, argv);
}

int relay_cli_logits(int argc, char **argv)
{
	return cmd_logits(argc, argv);
}
