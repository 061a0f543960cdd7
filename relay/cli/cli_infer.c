/*
 * cli_infer.c: the CLI's side of tetherd's inference (docs/protocol.md,
 * "Inference"): tether generate --daemon (one infer.generate or infer.chat
 * stream, printed as it comes, with credit granted as it is read and
 * infer.cancel on Ctrl-C), tether models (infer.models) and the inference
 * lines of tether status. The requests are built by cli_model.c, which
 * owns the flags; this file speaks to the daemon and prints.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define HELLO_TIMEOUT_MS 10000
#define REQUEST_ID_GENERATE 2
#define CREDIT 256                /* deltas granted at a time; more once half is read */

/* ---- the connection ---- */

int cli_daemon_open(const char *cmd, const char *runtime_dir, const char *client)
{
	char dir[100], why[256];
	if (runtime_dir)
		snprintf(dir, sizeof dir, "%s", runtime_dir);
	else
		relay_runtime_dir_default(dir, sizeof dir);
	int fd = relay_client_connect(dir);
	if (fd < 0) {
		fprintf(stderr, "tether %s: tetherd is not running for this user (%s/%s: %s); start it "
			"with `tetherd` or `tether connect`\n", cmd, dir, RELAY_SOCKET_NAME, strerror(-fd));
		return -1;
	}
	cJSON *hello = relay_client_hello(fd, client, HELLO_TIMEOUT_MS, why, sizeof why);
	if (!hello) {
		fprintf(stderr, "tether %s: %s\n", cmd, why);
		close(fd);
		return -1;
	}
	cJSON_Delete(hello);
	return fd;
}

static const char *str(const cJSON *o, const char *key)
{
	return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
}

static double num(const cJSON *o, const char *key, double fallback)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsNumber(v) ? v->valuedouble : fallback;
}

static bool is_type(const cJSON *msg, const char *type)
{
	const char *t = str(msg, "type");
	return t && !strcmp(t, type);
}

/* "top_k" -> "--top-k": the flag of a request member, for a daemon's error. */
static void flag_of(const char *field, char *out, size_t len)
{
	static const struct { const char *field, *flag; } special[] = {
		{ "messages", "--prompt" }, { "prompt", "--prompt" }, { "credit", "(credit)" },
	};
	*out = 0;
	if (!field)
		return;
	for (size_t i = 0; i < sizeof special / sizeof *special; i++)
		if (!strncmp(field, special[i].field, strlen(special[i].field))) {
			snprintf(out, len, "%s", special[i].flag);
			return;
		}
	size_t n = (size_t)snprintf(out, len, "--%s", field);
	for (size_t i = 2; i < n && i < len; i++)
		if (out[i] == '_')
			out[i] = '-';
}

/* A daemon's error reply, with the flag of its field. */
static void print_error(const char *cmd, const cJSON *err)
{
	char flag[64];
	flag_of(str(err, "field"), flag, sizeof flag);
	const char *m = str(err, "message");
	const char *code = str(err, "code");
	fprintf(stderr, "tether %s: tetherd refused it%s%s%s: %s%s%s%s\n", cmd, *flag ? " (" : "", flag,
		*flag ? ")" : "", m ? m : "an error", code ? " [" : "", code ? code : "", code ? "]" : "");
}

static void print_json(cJSON *j)
{
	char *s = cJSON_PrintUnformatted(j);
	if (s)
		printf("%s\n", s);
	cJSON_free(s);
}

/* ---- tether generate --daemon ---- */

static int wake_pipe[2] = { -1, -1 };

static void on_sigint(int sig)
{
	int e = errno;
	(void)sig;
	if (write(wake_pipe[1], "", 1) < 0) {
		/* full: a wake-up is pending already */
	}
	errno = e;
}

struct progress {
	bool tty, shown;
	int last;            /* percent last printed */
};

static void show_progress(struct progress *p, const char *model, double fraction)
{
	int pct = (int)(fraction * 100 + 1e-9);
	if (pct > 100)
		pct = 100;
	if (p->tty) {
		fprintf(stderr, "\rloading %s: %3d%%", model, pct);
		p->shown = true;
	} else if (!p->shown || pct / 10 != p->last / 10) {
		fprintf(stderr, "loading %s: %d%%\n", model, pct);
		p->shown = true;
	}
	p->last = pct;
	fflush(stderr);
}

/* Loading is over (the first delta, or the end): a terminal's line is
 * cleared; a log's ends at 100%. */
static void end_progress(struct progress *p, const char *model, bool loaded)
{
	if (p->tty && p->shown)
		fprintf(stderr, "\r\033[K");
	else if (p->shown && p->last < 100 && loaded)
		fprintf(stderr, "loading %s: 100%%\n", model);
	p->shown = false;
}

struct text {
	char *p;
	size_t len, cap;
};

static bool text_add(struct text *t, const char *s)
{
	size_t n = strlen(s);
	if (t->len + n + 1 > t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 1024;
		while (cap < t->len + n + 1)
			cap *= 2;
		char *q = realloc(t->p, cap);
		if (!q)
			return false;
		t->p = q;
		t->cap = cap;
	}
	memcpy(t->p + t->len, s, n + 1);
	t->len += n;
	return true;
}

/* The request's lines to the daemon; id 0: none (an event-like send). */
static int send_stream_request(int fd, const char *type, double stream, const char *key, long value, int id)
{
	char json[160];
	if (key)
		snprintf(json, sizeof json, "{\"type\":\"%s\",\"id\":%d,\"stream\":%.0f,\"%s\":%ld}", type, id,
			 stream, key, value);
	else
		snprintf(json, sizeof json, "{\"type\":\"%s\",\"id\":%d,\"stream\":%.0f}", type, id, stream);
	return relay_client_send(fd, json);
}

int cli_daemon_generate(const char *runtime_dir, cJSON *req, bool json)
{
	const char *cmd = "generate", *type = str(req, "type"), *model = str(req, "model");
	int fd = cli_daemon_open(cmd, runtime_dir, "tether generate");
	if (fd < 0)
		return 1;
	if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK)) {
		fprintf(stderr, "tether %s: pipe: %s\n", cmd, strerror(errno));
		close(fd);
		return 1;
	}
	struct sigaction sa = { .sa_handler = on_sigint, .sa_flags = SA_RESETHAND }, old_int, old_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);   /* a second Ctrl-C ends it at once */
	sigaction(SIGTERM, &sa, &old_term);

	cJSON_AddNumberToObject(req, "id", REQUEST_ID_GENERATE);
	cJSON_AddNumberToObject(req, "credit", CREDIT);
	char *text_req = cJSON_PrintUnformatted(req);
	int rc = text_req ? relay_client_send(fd, text_req) : -ENOMEM;
	cJSON_free(text_req);
	struct progress prog = { .tty = isatty(STDERR_FILENO) };
	struct text text = { 0 };
	cJSON *ids = cJSON_CreateArray(), *done = NULL;
	double stream = 0;
	bool interrupted = false, cancel_sent = false, printed = false;
	long unread_credit = 0;   /* deltas read since the last grant */
	int next_id = REQUEST_ID_GENERATE + 1, exit_code = 1;
	if (rc) {
		fprintf(stderr, "tether %s: cannot write to tetherd: %s\n", cmd, strerror(-rc));
		goto out;
	}
	for (;;) {
		if (interrupted && stream && !cancel_sent) {
			send_stream_request(fd, "infer.cancel", stream, NULL, 0, next_id++);
			cancel_sent = true;
		}
		cJSON *msg = relay_client_next(fd, wake_pipe[0], -1, &rc);
		if (!msg) {
			if (rc == -EINTR) {
				/* Ctrl-C when its handler wrote to the pipe; another signal
				 * only woke the wait */
				char drain[16];
				while (read(wake_pipe[0], drain, sizeof drain) > 0)
					interrupted = true;
				continue;
			}
			end_progress(&prog, model, false);
			if (printed)
				printf("\n");
			fprintf(stderr, "tether %s: %s before the stream ended\n", cmd,
				rc == -EPROTO ? "a bad frame from tetherd" : "tetherd closed the connection");
			goto out;
		}
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
		if (id && cJSON_IsNumber(id) && id->valuedouble == REQUEST_ID_GENERATE) {
			if (!is_type(msg, type)) {
				end_progress(&prog, model, false);
				print_error(cmd, msg);
				const char *code = str(msg, "code") ? str(msg, "code") : "";
				if (!strcmp(code, "model_not_found"))
					fprintf(stderr, "tether %s: tetherd serves the models in its models_dir and "
						"those given to it with --model; `tether models` lists them\n", cmd);
				if (!strcmp(code, "model_busy") && (cJSON_GetObjectItem(req, "ctx") ||
				    cJSON_GetObjectItem(req, "threads") || cJSON_GetObjectItem(req, "kv_type")))
					fprintf(stderr, "tether %s: --ctx, --threads and --kv-type apply only when "
						"the request loads the model: leave them out, or unload it first\n", cmd);
				cJSON_Delete(msg);
				goto out;
			}
			stream = num(msg, "stream", 0);
			if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(msg, "loading")))
				show_progress(&prog, model, 0);
		} else if (id) {
			/* the replies to infer.credit and infer.cancel: an error there
			 * (the stream ended meanwhile) changes nothing */
		} else if (is_type(msg, "infer.progress")) {
			const char *m = str(msg, "model");
			if (m && !strcmp(m, model))
				show_progress(&prog, model, num(msg, "fraction", 0));
		} else if (is_type(msg, "infer.delta") && stream && num(msg, "stream", -1) == stream) {
			end_progress(&prog, model, true);
			const char *t = str(msg, "text");
			const cJSON *d_ids = cJSON_GetObjectItemCaseSensitive(msg, "ids"), *i;
			if (t && *t) {
				text_add(&text, t);
				if (!json) {
					fputs(t, stdout);
					fflush(stdout);
					printed = true;
				}
			}
			cJSON_ArrayForEach(i, d_ids)
				cJSON_AddItemToArray(ids, cJSON_CreateNumber(i->valuedouble));
			if (cJSON_GetArraySize(d_ids) > 0 && ++unread_credit >= CREDIT / 2 && !cancel_sent) {
				send_stream_request(fd, "infer.credit", stream, "deltas", unread_credit, next_id++);
				unread_credit = 0;
			}
		} else if (is_type(msg, "infer.done") && stream && num(msg, "stream", -1) == stream) {
			done = msg;
			break;
		}
		cJSON_Delete(msg);
	}
	const char *reason = str(done, "stop_reason");
	reason = reason ? reason : "error";
	end_progress(&prog, model, strcmp(reason, "error") != 0);
	if (!strcmp(reason, "error")) {
		const cJSON *err = cJSON_GetObjectItemCaseSensitive(done, "error");
		if (printed)
			printf("\n");
		const char *code = str(err, "code");
		fprintf(stderr, "tether %s: %s%s%s%s\n", cmd, str(err, "message") ? str(err, "message") : "failed",
			code ? " [" : "", code ? code : "", code ? "]" : "");
		if (code && !strcmp(code, "context_exceeded"))
			fprintf(stderr, "tether %s: the prompt, --max-tokens and --repeat-last-n must fit in a "
				"slot's context (n_ctx: --ctx, when this request loads the model)\n", cmd);
		if (!strcmp(type, "infer.chat") && code && !strcmp(code, "unsupported"))
			fprintf(stderr, "tether %s: without --chat the prompt is used as it is\n", cmd);
		goto out;
	}
	if (json) {
		cJSON *j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "text", text.p ? text.p : "");
		cJSON_AddItemToObject(j, "ids", ids);
		ids = NULL;
		/* no prompt_ids: the daemon does not send the prompt's tokens */
		cJSON_AddStringToObject(j, "stop_reason", reason);
		cJSON_AddStringToObject(j, "model", str(done, "model") ? str(done, "model") : model);
		const char *keep[] = { "settings", "timings", "usage" };
		for (size_t k = 0; k < sizeof keep / sizeof *keep; k++) {
			cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(done, keep[k]);
			if (v)
				cJSON_AddItemToObject(j, keep[k], v);
		}
		cJSON *settings = cJSON_GetObjectItemCaseSensitive(j, "settings");
		cJSON *seed = cJSON_GetObjectItemCaseSensitive(settings, "seed");
		if (cJSON_IsNumber(seed) && seed->valuedouble >= 0)
			relay_json_set_integer(settings, "seed", (uint64_t)seed->valuedouble);
		print_json(j);
		cJSON_Delete(j);
	} else {
		printf("\n");
	}
	fflush(stdout);
	if (!strcmp(reason, "unloaded")) {
		fprintf(stderr, "tether %s: tetherd unloaded %s before the end (it is stopping)\n", cmd, model);
		exit_code = 1;
	} else if (!strcmp(reason, "cancelled")) {
		exit_code = interrupted ? 130 : 1;
		if (!interrupted)
			fprintf(stderr, "tether %s: tetherd cancelled the stream\n", cmd);
	} else {
		exit_code = 0;
	}
out:
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	close(wake_pipe[0]);
	close(wake_pipe[1]);
	wake_pipe[0] = wake_pipe[1] = -1;
	cJSON_Delete(done);
	cJSON_Delete(ids);
	free(text.p);
	close(fd);
	return exit_code;
}

/* ---- tether models ---- */

static void human_bytes(double b, char *out, size_t len)
{
	if (b >= 1024.0 * 1024 * 1024)
		snprintf(out, len, "%.1f GiB", b / (1024.0 * 1024 * 1024));
	else if (b >= 1024.0 * 1024)
		snprintf(out, len, "%.1f MiB", b / (1024.0 * 1024));
	else if (b >= 1024)
		snprintf(out, len, "%.0f KiB", b / 1024);
	else
		snprintf(out, len, "%.0f B", b);
}

static void join_strings(const cJSON *arr, char *out, size_t len)
{
	const cJSON *s;
	size_t n = 0;
	*out = 0;
	cJSON_ArrayForEach(s, arr)
		if (cJSON_IsString(s) && n < len)
			n += (size_t)snprintf(out + n, len - n, "%s%s", n ? "," : "", s->valuestring);
}

/* Where a GGUF file goes, for an empty list (status and models). */
static void print_empty_hint(const char *indent, const char *models_dir)
{
	printf("%sno models: put a GGUF file in %s (or start tetherd with --model PATH).\n"
	       "%sA file on the Windows side (/mnt/c/...) loads slowly over 9P: copy it into the\n"
	       "%sdistro's own filesystem instead.\n", indent, models_dir ? models_dir : "tetherd's models_dir",
	       indent, indent);
}

enum { COL_ID, COL_STATE, COL_SIZE, COL_ARCH, COL_QUANT, COL_CTX, COL_CHAT, N_COLS };

static void model_row(const cJSON *m, char cells[N_COLS][160])
{
	snprintf(cells[COL_ID], 160, "%s", str(m, "id") ? str(m, "id") : "?");
	const char *state = str(m, "state") ? str(m, "state") : "?";
	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "loadable")))
		state = "unloadable";
	snprintf(cells[COL_STATE], 160, "%s", state);
	human_bytes(num(m, "size", 0), cells[COL_SIZE], 160);
	snprintf(cells[COL_ARCH], 160, "%s", str(m, "architecture") ? str(m, "architecture") : "-");
	join_strings(cJSON_GetObjectItemCaseSensitive(m, "quantization"), cells[COL_QUANT], 160);
	if (!*cells[COL_QUANT])
		snprintf(cells[COL_QUANT], 160, "-");
	if (cJSON_GetObjectItemCaseSensitive(m, "context_trained"))
		snprintf(cells[COL_CTX], 160, "%.0f", num(m, "context_trained", 0));
	else
		snprintf(cells[COL_CTX], 160, "-");
	snprintf(cells[COL_CHAT], 160, "%s", str(m, "chat_template") ? str(m, "chat_template") : "-");
}

int relay_cli_models(int argc, char **argv)
{
	const char *cmd = "models", *runtime_dir = NULL;
	bool json = false;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--runtime-dir")) {
			if (i + 1 >= argc)
				return cli_usage_error(cmd, "option %s needs a value", "--runtime-dir");
			runtime_dir = argv[++i];
			if (!*runtime_dir || strlen(runtime_dir) >= 100)
				return cli_usage_error(cmd, "--runtime-dir '%s' is empty or too long", runtime_dir);
		} else {
			return cli_usage_error(cmd, "unknown option '%s'", argv[i]);
		}
	}
	int fd = cli_daemon_open(cmd, runtime_dir, "tether models");
	if (fd < 0)
		return 1;
	char why[256];
	/* infer.models scans the directory first: a large dir on 9P takes a while */
	cJSON *r = relay_client_request(fd, "{\"type\":\"infer.models\",\"id\":2}", 120000, why, sizeof why);
	close(fd);
	if (!r) {
		fprintf(stderr, "tether %s: %s\n", cmd, why);
		return 1;
	}
	if (!is_type(r, "infer.models")) {
		print_error(cmd, r);
		cJSON_Delete(r);
		return 1;
	}
	cJSON_DeleteItemFromObject(r, "type");
	cJSON_DeleteItemFromObject(r, "id");
	const cJSON *models = cJSON_GetObjectItemCaseSensitive(r, "models"), *m;
	if (json) {
		print_json(r);
		cJSON_Delete(r);
		return 0;
	}
	int n = cJSON_GetArraySize(models);
	if (n == 0) {
		print_empty_hint("", str(r, "models_dir"));
		cJSON_Delete(r);
		return 0;
	}
	static const char *const head[N_COLS] = { "ID", "STATE", "SIZE", "ARCH", "QUANT", "CONTEXT", "CHAT" };
	char (*cells)[N_COLS][160] = calloc((size_t)n, sizeof *cells);
	int width[N_COLS];
	if (!cells) {
		cJSON_Delete(r);
		return 1;
	}
	for (int c = 0; c < N_COLS; c++)
		width[c] = (int)strlen(head[c]);
	int k = 0;
	cJSON_ArrayForEach(m, models) {
		model_row(m, cells[k]);
		for (int c = 0; c < N_COLS; c++)
			if ((int)strlen(cells[k][c]) > width[c])
				width[c] = (int)strlen(cells[k][c]);
		k++;
	}
	for (int c = 0; c < N_COLS; c++)
		printf("%-*s%s", c == N_COLS - 1 ? 0 : width[c], head[c], c == N_COLS - 1 ? "\n" : "  ");
	k = 0;
	cJSON_ArrayForEach(m, models) {
		for (int c = 0; c < N_COLS; c++)
			printf("%-*s%s", c == N_COLS - 1 ? 0 : width[c], cells[k][c], c == N_COLS - 1 ? "\n" : "  ");
		if (str(m, "reason"))
			printf("    reason: %s\n", str(m, "reason"));
		if (str(m, "note"))
			printf("    note: %s\n", str(m, "note"));
		k++;
	}
	printf("models dir: %s\n", str(r, "models_dir") ? str(r, "models_dir") : "?");
	free(cells);
	cJSON_Delete(r);
	return 0;
}

/* ---- tether status: the inference lines ---- */

static void print_loaded(const cJSON *m)
{
	const char *id = str(m, "id") ? str(m, "id") : "?", *state = str(m, "state");
	if (state && !strcmp(state, "loading")) {
		const cJSON *p = cJSON_GetObjectItemCaseSensitive(m, "progress");
		if (cJSON_IsNumber(p))
			printf("    %s: loading, %.0f%%\n", id, p->valuedouble * 100);
		else
			printf("    %s: loading (waiting for room)\n", id);
		return;
	}
	if (state && strcmp(state, "loaded")) {
		printf("    %s: %s\n", id, state);
		return;
	}
	char mem[32];
	human_bytes(num(m, "memory_bytes", 0), mem, sizeof mem);
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(m, "backend");
	double threads = num(m, "threads", 0), slots = num(m, "slots", 0);
	printf("    %s: %s, %s/%s, %.0f thread%s, %.0f slot%s of n_ctx %.0f (kv %s); streams %.0f active, "
	       "%.0f queued; ", id, mem, str(b, "name") ? str(b, "name") : "?",
	       str(b, "isa") ? str(b, "isa") : "?", threads, threads == 1 ? "" : "s", slots,
	       slots == 1 ? "" : "s", num(m, "n_ctx", 0), str(m, "kv_type") ? str(m, "kv_type") : "?",
	       num(m, "streams_active", 0), num(m, "streams_queued", 0));
	const cJSON *in = cJSON_GetObjectItemCaseSensitive(m, "unload_in_s");
	if (!cJSON_IsNumber(in))
		printf("kept loaded (keep_alive_s -1)\n");
	else if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "idle")))
		printf("idle, unloads in %.0f s\n", in->valuedouble > 0 ? in->valuedouble : 0);
	else
		printf("unloads %.0f s after its last stream\n", in->valuedouble);
}

void cli_infer_print_status(const cJSON *inf)
{
	if (!cJSON_IsObject(inf))
		return;
	const cJSON *loaded = cJSON_GetObjectItemCaseSensitive(inf, "loaded"), *m;
	const cJSON *streams = cJSON_GetObjectItemCaseSensitive(inf, "streams"), *s;
	double known = num(inf, "models_known", 0);
	int n_loaded = 0;
	cJSON_ArrayForEach(m, loaded)
		n_loaded += str(m, "state") && !strcmp(str(m, "state"), "loaded");
	printf("  inference:   %.0f model%s known, %d loaded, %d stream%s (models dir %s)\n", known,
	       known == 1 ? "" : "s", n_loaded, cJSON_GetArraySize(streams),
	       cJSON_GetArraySize(streams) == 1 ? "" : "s", str(inf, "models_dir") ? str(inf, "models_dir") : "?");
	if (str(inf, "hint"))
		printf("    %s\n", str(inf, "hint"));
	cJSON_ArrayForEach(m, loaded)
		print_loaded(m);
	cJSON_ArrayForEach(s, streams)
		printf("    stream %.0f: %s, %s, %.0f token%s, connection %.0f\n", num(s, "stream", 0),
		       str(s, "model") ? str(s, "model") : "?", str(s, "state") ? str(s, "state") : "?",
		       num(s, "generated", 0), num(s, "generated", 0) == 1 ? "" : "s", num(s, "connection", 0));
}
