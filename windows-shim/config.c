/* shim.json: one table drives the parser, the defaults' description and --help. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

enum setting_type { SET_LONG, SET_STRING };

struct setting {
	const char *key;
	enum setting_type type;
	size_t offset;       /* into struct shim_config */
	size_t size;         /* SET_STRING: buffer size */
	long min, max;       /* SET_LONG: inclusive range */
	const char *doc;
};

#define OFF(f) offsetof(struct shim_config, f)
#define SZ(f) sizeof(((struct shim_config *)0)->f)

static const struct setting settings[] = {
	{ "distro", SET_STRING, OFF(distro), SZ(distro), 0, 0,
	  "WSL distro to keep running (\"\" = the default distro at each start)" },
	{ "wsl_exe", SET_STRING, OFF(wsl_exe), SZ(wsl_exe), 0, 0,
	  "path of wsl.exe (\"\" = wsl.exe in the Windows system directory)" },
	{ "port", SET_LONG, OFF(port), 0, 1, 65535, "tetherd's port on 127.0.0.1, for /healthz" },
	{ "health_interval_ms", SET_LONG, OFF(health_interval_ms), 0, 100, 3600000,
	  "milliseconds between health checks" },
	{ "health_timeout_ms", SET_LONG, OFF(health_timeout_ms), 0, 50, 600000,
	  "milliseconds one health check may take" },
	{ "health_failures", SET_LONG, OFF(health_failures), 0, 1, 1000,
	  "consecutive failed health checks that restart the anchor" },
	{ "health_grace_ms", SET_LONG, OFF(health_grace_ms), 0, 0, 3600000,
	  "after a start, failed checks count only after this (or a first success)" },
	{ "backoff_base_ms", SET_LONG, OFF(backoff_base_ms), 0, 10, 3600000,
	  "first restart delay; doubles per unstable run" },
	{ "backoff_max_ms", SET_LONG, OFF(backoff_max_ms), 0, 10, 86400000,
	  "longest restart delay" },
	{ "stable_ms", SET_LONG, OFF(stable_ms), 0, 100, 86400000,
	  "a run at least this long resets the backoff" },
	{ "stop_timeout_ms", SET_LONG, OFF(stop_timeout_ms), 0, 0, 600000,
	  "from closing the anchor's stdin to killing it" },
	{ "log_max_bytes", SET_LONG, OFF(log_max_bytes), 0, 4096, 1L << 30,
	  "shim.log is rotated when it grows past this" },
	{ "log_files", SET_LONG, OFF(log_files), 0, 1, 20,
	  "rotated logs kept (shim.1.log is the newest)" },
};
#define N_SETTINGS (sizeof settings / sizeof settings[0])

void shim_config_defaults(struct shim_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->port = SHIM_DEFAULT_PORT;
	cfg->health_interval_ms = 5000;
	cfg->health_timeout_ms = 2000;
	cfg->health_failures = 3;
	cfg->health_grace_ms = 30000;
	cfg->backoff_base_ms = 1000;
	cfg->backoff_max_ms = 60000;
	cfg->stable_ms = 60000;
	cfg->stop_timeout_ms = 5000;
	cfg->log_max_bytes = 1L << 20;
	cfg->log_files = 3;
}

struct parse_ctx {
	struct shim_config *cfg;
	bool seen[N_SETTINGS];
};

static int msgf(char msg[SHIM_ERR_MAX], const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int msgf(char msg[SHIM_ERR_MAX], const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, SHIM_ERR_MAX, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int on_member(void *opaque, const char *key, const struct shim_json_value *v,
		     char msg[SHIM_ERR_MAX])
{
	struct parse_ctx *ctx = opaque;
	size_t i;

	for (i = 0; i < N_SETTINGS; i++)
		if (!strcmp(settings[i].key, key))
			break;
	if (i == N_SETTINGS) {
		char shown[128];
		return msgf(msg, "unknown key \"%s\" (see docs/shim.md)",
			    shim_json_printable(key, 64, shown, sizeof shown));
	}
	if (ctx->seen[i])
		return msgf(msg, "key \"%s\" appears twice", key);
	ctx->seen[i] = true;

	const struct setting *s = &settings[i];
	char *field = (char *)ctx->cfg + s->offset;
	if (s->type == SET_LONG) {
		if (v->type != SHIM_JSON_INT)
			return msgf(msg, "\"%s\" must be an integer", key);
		if (v->num < s->min || v->num > s->max)
			return msgf(msg, "\"%s\" must be between %ld and %ld, got %lld", key, s->min,
				    s->max, v->num);
		*(long *)field = (long)v->num;
		return 0;
	}
	if (v->type != SHIM_JSON_STRING)
		return msgf(msg, "\"%s\" must be a string", key);
	if (v->str_len >= s->size)
		return msgf(msg, "\"%s\" must be shorter than %lu bytes", key, (unsigned long)s->size);
	for (size_t k = 0; k < v->str_len; k++)
		if ((unsigned char)v->str[k] < 0x20)
			return msgf(msg, "\"%s\" must not contain control characters", key);
	memcpy(field, v->str, v->str_len + 1);
	return 0;
}

int shim_config_parse(struct shim_config *cfg, const char *text, size_t len, const char *path,
		      char err[SHIM_ERR_MAX])
{
	struct parse_ctx ctx = { .cfg = cfg };
	struct shim_config work = *cfg;   /* cfg is untouched on error */
	char where[SHIM_ERR_MAX];

	ctx.cfg = &work;
	if (shim_json_object(text, len, on_member, &ctx, where)) {
		snprintf(err, SHIM_ERR_MAX, "config %.200s: %.300s", path, where);
		return -EINVAL;
	}
	/* Across keys: each makes sense only with the others. */
	if (work.backoff_base_ms > work.backoff_max_ms) {
		snprintf(err, SHIM_ERR_MAX,
			 "config %.200s: \"backoff_base_ms\" (%ld) must not exceed \"backoff_max_ms\" (%ld)",
			 path, work.backoff_base_ms, work.backoff_max_ms);
		return -EINVAL;
	}
	if (work.health_timeout_ms > work.health_interval_ms) {
		snprintf(err, SHIM_ERR_MAX,
			 "config %.200s: \"health_timeout_ms\" (%ld) must not exceed \"health_interval_ms\" (%ld)",
			 path, work.health_timeout_ms, work.health_interval_ms);
		return -EINVAL;
	}
	*cfg = work;
	return 0;
}

size_t shim_config_describe(const struct shim_config *cfg, char *out, size_t cap)
{
	size_t n = 0;
	if (!cap)
		return 0;
	out[0] = 0;
	for (size_t i = 0; i < N_SETTINGS; i++) {
		const struct setting *s = &settings[i];
		const char *field = (const char *)cfg + s->offset;
		int k;
		if (s->type == SET_LONG)
			k = snprintf(out + n, cap - n, "  %-20s %-8ld %s\n", s->key,
				     *(const long *)field, s->doc);
		else
			k = snprintf(out + n, cap - n, "  %-20s \"%s\" %s\n", s->key, field, s->doc);
		if (k < 0 || (size_t)k >= cap - n) {
			out[n] = 0;
			return n;
		}
		n += (size_t)k;
	}
	return n;
}
