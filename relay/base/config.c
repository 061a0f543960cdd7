/* Settings: one table drives the JSON config file, the flags and --help. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "base.h"

enum setting_type { SET_INT, SET_STRING, SET_ORIGINS, SET_MODELS, SET_LOG_LEVEL };

struct setting {
	const char *key;       /* JSON key */
	const char *flag;      /* command-line flag */
	enum setting_type type;
	size_t offset;         /* into struct relay_config */
	size_t size;           /* SET_STRING: buffer size */
	long min, max;         /* SET_INT: inclusive range */
	const char *doc;
};

#define OFF(f) offsetof(struct relay_config, f)
#define SZ(f) sizeof(((struct relay_config *)0)->f)

static const struct setting settings[] = {
	{ "port", "--port", SET_INT, OFF(port), 0, 0, 65535,
	  "TCP port on 127.0.0.1 (0 = pick a free one)" },
	{ "runtime_dir", "--runtime-dir", SET_STRING, OFF(runtime_dir), SZ(runtime_dir), 0, 0,
	  "directory for socket, token, endpoint (default $TETHER_RUNTIME_DIR or /tmp/tether-UID)" },
	{ "log_file", "--log-file", SET_STRING, OFF(log_file), SZ(log_file), 0, 0,
	  "append logs to this file (default: stderr; the journal under systemd)" },
	{ "log_max_bytes", "--log-max-bytes", SET_INT, OFF(log_max_bytes), 0, 0, 1L << 40,
	  "rename the log file to FILE.1 and start afresh beyond this size (0 = never)" },
	{ "log_level", "--log-level", SET_LOG_LEVEL, OFF(log_level), 0, 0, 0,
	  "error, warn, info or debug" },
	{ "allowed_origins", "--allow-origin", SET_ORIGINS, OFF(allowed_origins), 0, 0, 0,
	  "an Origin allowed to connect (repeat the flag; config: array); default none" },
	{ "max_connections", "--max-connections", SET_INT, OFF(max_connections), 0, 1, 4096,
	  "connections at once, per transport" },
	{ "max_message_bytes", "--max-message-bytes", SET_INT, OFF(max_message_bytes), 0, 1024,
	  64L << 20, "largest protocol message accepted" },
	{ "max_queued_bytes", "--max-queued-bytes", SET_INT, OFF(max_queued_bytes), 0, 4096,
	  1L << 30, "bytes queued to one connection before its requests stop being read" },
	{ "ping_interval_s", "--ping-interval", SET_INT, OFF(ping_interval_s), 0, 1, 3600,
	  "seconds between WebSocket pings on an idle connection" },
	{ "max_sessions", "--max-sessions", SET_INT, OFF(max_sessions), 0, 1, 4096,
	  "terminal sessions at once, in all" },
	{ "max_sessions_per_connection", "--max-sessions-per-connection", SET_INT,
	  OFF(max_sessions_per_connection), 0, 1, 4096, "terminal sessions one connection may open" },
	{ "ring_bytes", "--ring-bytes", SET_INT, OFF(ring_bytes), 0, 4096, 256L << 20,
	  "output kept per terminal session for replay" },
	{ "detach_timeout_s", "--detach-timeout", SET_INT, OFF(detach_timeout_s), 0, 1, 2592000,
	  "seconds a detached terminal session is kept" },
	{ "max_detached", "--max-detached", SET_INT, OFF(max_detached), 0, 0, 4096,
	  "detached terminal sessions kept at most (the oldest is closed)" },
	{ "default_credit", "--default-credit", SET_INT, OFF(default_credit), 0, 0, 1L << 30,
	  "output bytes a terminal attachment may receive before the client grants more" },
	{ "close_grace_ms", "--close-grace-ms", SET_INT, OFF(close_grace_ms), 0, 0, 600000,
	  "milliseconds from SIGHUP to SIGKILL when a terminal is closed" },
	{ "models_dir", "--models-dir", SET_STRING, OFF(models_dir), SZ(models_dir), 0, 0,
	  "every *.gguf file here is a model (default $XDG_DATA_HOME/tether/models)" },
	{ "models", "--model", SET_MODELS, OFF(models), 0, 0, 0,
	  "a GGUF model file outside models_dir (repeat the flag; config: array)" },
	{ "infer_parallel", "--infer-parallel", SET_INT, OFF(infer_parallel), 0, 1, 64,
	  "streams one loaded model generates at once (slots)" },
	{ "infer_queue", "--infer-queue", SET_INT, OFF(infer_queue), 0, 0, 4096,
	  "requests waiting for a slot, per model, before too_many_streams" },
	{ "infer_max_loaded", "--infer-max-loaded", SET_INT, OFF(infer_max_loaded), 0, 1, 16,
	  "models loaded at once (the least recently used idle one makes room)" },
	{ "keep_alive_s", "--keep-alive", SET_INT, OFF(keep_alive_s), 0, -1, 30L * 86400,
	  "seconds an idle model stays loaded (0: unloaded once idle; -1: until unloaded)" },
	{ "infer_ctx", "--infer-ctx", SET_INT, OFF(infer_ctx), 0, 0, 1L << 20,
	  "context (tokens) of each slot when a load does not say (0: trained, at most 4096)" },
	{ "infer_threads", "--infer-threads", SET_INT, OFF(infer_threads), 0, 0, 256,
	  "threads of a loaded model's forward pass (0: online CPUs)" },
	{ "infer_max_memory_mb", "--infer-max-memory", SET_INT, OFF(infer_max_memory_mb), 0, 0,
	  1L << 30, "MiB all loaded models may take together (0: what MemAvailable allows)" },
};
#define N_SETTINGS (sizeof settings / sizeof settings[0])

void relay_config_defaults(struct relay_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->port = RELAY_DEFAULT_PORT;
	relay_runtime_dir_default(cfg->runtime_dir, sizeof cfg->runtime_dir);
	cfg->log_level = RELAY_LOG_INFO;
	cfg->log_max_bytes = 10L << 20;
	cfg->max_connections = 256;
	cfg->max_message_bytes = 1L << 20;
	cfg->max_queued_bytes = 8L << 20;
	cfg->ping_interval_s = 20;
	cfg->max_sessions = 256;
	cfg->max_sessions_per_connection = 128;
	cfg->ring_bytes = 1L << 20;
	cfg->detach_timeout_s = 4 * 3600;
	cfg->max_detached = 32;
	cfg->default_credit = 256 * 1024;
	cfg->close_grace_ms = 2000;
	cfg->infer_parallel = 4;
	cfg->infer_queue = 16;
	cfg->infer_max_loaded = 1;
	cfg->keep_alive_s = 300;
}

static int fail(char err[RELAY_ERR_MAX], const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int fail(char err[RELAY_ERR_MAX], const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, RELAY_ERR_MAX, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int parse_long(const char *s, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

/* Applies one value given as text (a flag) or JSON (the file). Exactly one of
 * text and json is non-NULL. where names the source for the message. */
static int apply(struct relay_config *cfg, const struct setting *s, const char *text,
		 const cJSON *json, const char *where, char err[RELAY_ERR_MAX])
{
	char *field = (char *)cfg + s->offset;
	const char *str = text ? text : cJSON_GetStringValue(json);

	if (json && (s->type == SET_ORIGINS || s->type == SET_MODELS)) {
		/* the file's array replaces the list; each item is checked as a flag's value */
		const cJSON *item;
		if (!cJSON_IsArray(json))
			return fail(err, "%s\"%s\" must be an array of strings", where, s->key);
		*(s->type == SET_ORIGINS ? &cfg->n_allowed_origins : &cfg->n_models) = 0;
		cJSON_ArrayForEach(item, json) {
			if (!cJSON_IsString(item))
				return fail(err, "%s\"%s\" must be an array of strings", where, s->key);
			int rc = apply(cfg, s, item->valuestring, NULL, where, err);
			if (rc)
				return rc;
		}
		return 0;
	}
	switch (s->type) {
	case SET_INT: {
		long v;
		if (text) {
			if (parse_long(text, &v))
				return fail(err, "%s%s: '%s' is not an integer", where, s->flag, text);
			if (v < s->min || v > s->max)
				return fail(err, "%s%s must be between %ld and %ld, got %ld", where,
					    s->flag, s->min, s->max, v);
		} else {
			if (!cJSON_IsNumber(json) || json->valuedouble != floor(json->valuedouble))
				return fail(err, "%s\"%s\" must be an integer", where, s->key);
			/* Range first: casting a double beyond long is undefined. */
			if (json->valuedouble < (double)s->min || json->valuedouble > (double)s->max)
				return fail(err, "%s\"%s\" must be between %ld and %ld, got %.17g",
					    where, s->key, s->min, s->max, json->valuedouble);
			v = (long)json->valuedouble;
		}
		if (s->offset == OFF(port))
			cfg->port = (int)v;
		else
			*(long *)field = v;
		return 0;
	}
	case SET_STRING:
		if (!str)
			return fail(err, "%s\"%s\" must be a string", where, s->key);
		if (!*str || strlen(str) >= s->size)
			return fail(err, "%s%s must be a non-empty string shorter than %zu bytes",
				    where, text ? s->flag : s->key, s->size);
		memcpy(field, str, strlen(str) + 1);
		return 0;
	case SET_LOG_LEVEL: {
		int level = str ? relay_log_level_parse(str) : -1;
		if (level < 0)
			return fail(err, "%s%s must be one of error, warn, info, debug%s%s%s", where,
				    text ? s->flag : s->key, str ? ", got '" : "", str ? str : "",
				    str ? "'" : "");
		cfg->log_level = level;
		return 0;
	}
	case SET_ORIGINS:
		if (cfg->n_allowed_origins >= RELAY_MAX_ORIGINS)
			return fail(err, "%sat most %d allowed origins", where, RELAY_MAX_ORIGINS);
		if (!*text || strlen(text) >= RELAY_ORIGIN_MAX || strchr(text, ' '))
			return fail(err, "%sallowed origin '%s' must be a non-empty origin like "
				    "https://example.com, shorter than %d bytes", where, text,
				    RELAY_ORIGIN_MAX);
		strcpy(cfg->allowed_origins[cfg->n_allowed_origins++], text);
		return 0;
	case SET_MODELS:
		if (cfg->n_models >= RELAY_MAX_MODEL_PATHS)
			return fail(err, "%sat most %d model files (put more in models_dir)", where,
				    RELAY_MAX_MODEL_PATHS);
		if (!*text || strlen(text) >= RELAY_PATH_MAX)
			return fail(err, "%smodel path '%.*s' must be non-empty and shorter than %d bytes",
				    where, relay_utf8_prefix(text, 80), text, RELAY_PATH_MAX);
		strcpy(cfg->models[cfg->n_models++], text);
		return 0;
	}
	return -EINVAL;
}

static const struct setting *find_key(const char *key)
{
	for (size_t i = 0; i < N_SETTINGS; i++)
		if (!strcmp(settings[i].key, key))
			return &settings[i];
	return NULL;
}

/* 1-based line and column of byte offset off in text. */
static void line_col(const char *text, size_t off, int *line, int *col)
{
	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off && text[i]; i++) {
		if (text[i] == '\n') {
			(*line)++;
			*col = 1;
		} else {
			(*col)++;
		}
	}
}

#define CONFIG_MAX_BYTES (1 << 20)

int relay_config_load_text(struct relay_config *cfg, const char *text, size_t len,
			   const char *path, char err[RELAY_ERR_MAX])
{
	const char *end = NULL;
	char where[300];
	cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, 0);
	int rc = 0;

	snprintf(where, sizeof where, "config %s: ", path);
	if (!root) {
		int line, col;
		size_t off = end ? (size_t)(end - text) : 0;
		line_col(text, off < len ? off : len, &line, &col);
		return fail(err, "%sinvalid JSON at line %d, column %d", where, line, col);
	}
	if (end && (size_t)(end - text) < len) {
		for (const char *p = end; p < text + len; p++) {
			if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') {
				int line, col;
				line_col(text, (size_t)(p - text), &line, &col);
				rc = fail(err, "%strailing data after the JSON object at line %d, column %d",
					  where, line, col);
				goto out;
			}
		}
	}
	if (!cJSON_IsObject(root)) {
		rc = fail(err, "%sthe top level must be a JSON object", where);
		goto out;
	}
	const cJSON *item;
	cJSON_ArrayForEach(item, root) {
		const struct setting *s = find_key(item->string);
		if (!s) {
			rc = fail(err, "%sunknown key \"%s\" (see docs/configuration.md)", where,
				  item->string);
			goto out;
		}
		for (const cJSON *prev = root->child; prev != item; prev = prev->next)
			if (!strcmp(prev->string, item->string)) {
				rc = fail(err, "%skey \"%s\" appears twice", where, item->string);
				goto out;
			}
		rc = apply(cfg, s, NULL, item, where, err);
		if (rc)
			goto out;
	}
out:
	cJSON_Delete(root);
	return rc;
}

int relay_config_load_file(struct relay_config *cfg, const char *path, char err[RELAY_ERR_MAX])
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		int e = errno;
		fail(err, "config %s: %s", path, strerror(e));
		return -e;
	}
	char *text = malloc(CONFIG_MAX_BYTES + 1);
	size_t len = text ? fread(text, 1, CONFIG_MAX_BYTES + 1, f) : 0;
	int rc;
	if (!text)
		rc = fail(err, "config %s: out of memory", path);
	else if (ferror(f))
		rc = fail(err, "config %s: read error", path);
	else if (len > CONFIG_MAX_BYTES)
		rc = fail(err, "config %s: larger than %d bytes", path, CONFIG_MAX_BYTES);
	else
		rc = relay_config_load_text(cfg, text, len, path, err);
	free(text);
	fclose(f);
	return rc;
}

int relay_config_parse_args(struct relay_config *cfg, int argc, char **argv,
			    char err[RELAY_ERR_MAX])
{
	bool origins_given = false;   /* the first --allow-origin replaces the file's list */
	bool models_given = false;    /* and the first --model the file's models */

	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *value = NULL;
		const char *eq = strchr(arg, '=');
		size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
		const struct setting *s = NULL;

		if (!strncmp(arg, "--config", name_len) && name_len == 8) {
			if (!eq)
				i++;   /* main already read it */
			continue;
		}
		for (size_t k = 0; k < N_SETTINGS; k++)
			if (strlen(settings[k].flag) == name_len &&
			    !strncmp(settings[k].flag, arg, name_len))
				s = &settings[k];
		if (!s)
			return fail(err, "unknown option '%.*s' (see --help)", (int)name_len, arg);
		if (eq)
			value = eq + 1;
		else if (i + 1 < argc)
			value = argv[++i];
		else
			return fail(err, "option %s needs a value", s->flag);
		if (s->type == SET_ORIGINS && !origins_given) {
			origins_given = true;
			cfg->n_allowed_origins = 0;
		}
		if (s->type == SET_MODELS && !models_given) {
			models_given = true;
			cfg->n_models = 0;
		}
		int rc = apply(cfg, s, value, NULL, "", err);
		if (rc)
			return rc;
	}
	return 0;
}

void relay_config_print_help(FILE *out)
{
	struct relay_config def;
	relay_config_defaults(&def);
	for (size_t i = 0; i < N_SETTINGS; i++) {
		const struct setting *s = &settings[i];
		char dflt[128] = "";
		if (s->type == SET_INT)
			snprintf(dflt, sizeof dflt, " [%ld]", s->offset == OFF(port) ? (long)def.port :
				 *(long *)((char *)&def + s->offset));
		else if (s->type == SET_LOG_LEVEL)
			snprintf(dflt, sizeof dflt, " [%s]", relay_log_level_name(def.log_level));
		fprintf(out, "  %-22s %s%s\n", s->flag, s->doc, dflt);
	}
}

int relay_config_default_path(char *buf, size_t len)
{
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	int n;
	if (xdg && *xdg == '/')
		n = snprintf(buf, len, "%s/tether/tetherd.json", xdg);
	else if (home && *home)
		n = snprintf(buf, len, "%s/.config/tether/tetherd.json", home);
	else
		return -ENOENT;
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int relay_config_load(struct relay_config *cfg, const char *path,
		      char err[RELAY_ERR_MAX])
{
	char dflt[1024];
	relay_config_defaults(cfg);
	if (path)
		return relay_config_load_file(cfg, path, err);
	if (relay_config_default_path(dflt, sizeof dflt) || access(dflt, F_OK))
		return 0;
	return relay_config_load_file(cfg, dflt, err);
}

int relay_models_dir(const struct relay_config *cfg, char *buf, size_t len)
{
	const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
	int n;
	if (*cfg->models_dir)
		n = snprintf(buf, len, "%s", cfg->models_dir);
	else if (xdg && *xdg == '/')
		n = snprintf(buf, len, "%s/tether/models", xdg);
	else if (home && *home)
		n = snprintf(buf, len, "%s/.local/share/tether/models", home);
	else
		return -ENOENT;
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}
