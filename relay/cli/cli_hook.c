/* tether hook: the agent's hook command (docs/hooks.md), and
 * tether hook install|uninstall for Claude Code's settings file. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define EXIT_BLOCK 2        /* Claude Code: block, stderr is the reason */
#define EXIT_NONBLOCKING 1  /* Claude Code: a non-blocking error, the action proceeds */
#define STDIN_MAX 1000000

enum agent { AGENT_CLAUDE, AGENT_GENERIC };

struct hook_opts {
	const char *event;
	double timeout_s;
	const char *dflt;        /* allow deny ask passthrough */
	enum agent agent;
	int wait;                /* -1: by event */
	char runtime_dir[100];
};

/* What came back: a decision, or none and why. */
struct outcome {
	const char *decision;    /* NULL: none */
	const char *reason;
	const cJSON *updated;
	const char *why;
	bool failed;             /* tether itself failed (bad input, daemon down) */
};

static bool one_of(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

static void print_json(cJSON *out)
{
	char *text = cJSON_PrintUnformatted(out);
	printf("%s\n", text);
	cJSON_free(text);
	cJSON_Delete(out);
}

/* Claude Code's contract: docs/hooks.md. */
static int render_claude(const char *event, const struct outcome *o, const char *dflt)
{
	const char *d = o->decision, *reason = o->reason;
	char why[512];

	if (!d) {
		snprintf(why, sizeof why, "tether hook: no decision for %s (%s): default %s", event,
			 o->why, dflt);
		if (strcmp(o->why, "not waited"))   /* a notification needs no decision */
			fprintf(stderr, "%s\n", why);
		if (!strcmp(dflt, "deny"))
			return EXIT_BLOCK;
		bool pre = !strcmp(event, "PreToolUse"), perm = !strcmp(event, "PermissionRequest");
		if ((!strcmp(dflt, "allow") && (pre || perm)) || (!strcmp(dflt, "ask") && pre)) {
			d = dflt;
			reason = why + strlen("tether hook: ");
		} else {
			return o->failed ? EXIT_NONBLOCKING : 0;
		}
	}
	if (!strcmp(d, "passthrough"))
		return 0;
	cJSON *out = cJSON_CreateObject();
	if (!strcmp(d, "halt")) {
		cJSON_AddFalseToObject(out, "continue");
		cJSON_AddStringToObject(out, "stopReason", reason ? reason : "Stopped from the IDE");
	} else if (!strcmp(d, "block")) {
		cJSON_AddStringToObject(out, "decision", "block");
		cJSON_AddStringToObject(out, "reason", reason ? reason : "Blocked from the IDE");
	} else if (!strcmp(event, "PermissionRequest")) {
		cJSON *hso = cJSON_AddObjectToObject(out, "hookSpecificOutput");
		cJSON_AddStringToObject(hso, "hookEventName", event);
		cJSON *dec = cJSON_AddObjectToObject(hso, "decision");
		cJSON_AddStringToObject(dec, "behavior", d);
		if (o->updated && !strcmp(d, "allow"))
			cJSON_AddItemToObject(dec, "updatedInput", cJSON_Duplicate(o->updated, 1));
		if (reason && !strcmp(d, "deny"))
			cJSON_AddStringToObject(dec, "message", reason);
	} else {   /* PreToolUse: allow, deny, ask */
		cJSON *hso = cJSON_AddObjectToObject(out, "hookSpecificOutput");
		cJSON_AddStringToObject(hso, "hookEventName", event);
		cJSON_AddStringToObject(hso, "permissionDecision", d);
		if (reason)
			cJSON_AddStringToObject(hso, "permissionDecisionReason", reason);
		if (o->updated)
			cJSON_AddItemToObject(hso, "updatedInput", cJSON_Duplicate(o->updated, 1));
	}
	print_json(out);
	return 0;
}

static int render_generic(const struct outcome *o, const char *dflt)
{
	cJSON *out = cJSON_CreateObject();
	if (o->decision)
		cJSON_AddStringToObject(out, "decision", o->decision);
	else
		cJSON_AddNullToObject(out, "decision");
	if (o->reason)
		cJSON_AddStringToObject(out, "reason", o->reason);
	if (o->updated)
		cJSON_AddItemToObject(out, "updated_input", cJSON_Duplicate(o->updated, 1));
	if (o->why) {
		cJSON_AddStringToObject(out, "why", o->why);
		if (strcmp(o->why, "not waited"))
			fprintf(stderr, "tether hook: no decision (%s): default %s\n", o->why, dflt);
	}
	print_json(out);
	return !o->decision && !strcmp(dflt, "deny") ? EXIT_BLOCK : 0;
}

static int finish(const struct hook_opts *opt, const char *event, const struct outcome *o)
{
	fflush(stdout);
	return opt->agent == AGENT_CLAUDE ? render_claude(event ? event : "the hook", o, opt->dflt)
					  : render_generic(o, opt->dflt);
}

/* A failure of tether itself: said on stderr, then the default applies. */
static int failed(const struct hook_opts *opt, const char *event, const char *why)
{
	struct outcome o = { .why = why, .failed = true };
	return finish(opt, event, &o);
}

static int parse_hook_opts(int argc, char **argv, struct hook_opts *o)
{
	static const char *const defaults[] = { "allow", "deny", "ask", "passthrough", NULL };
	*o = (struct hook_opts){ .timeout_s = 30, .dflt = "passthrough", .wait = -1 };
	relay_runtime_dir_default(o->runtime_dir, sizeof o->runtime_dir);
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		bool takes = !strcmp(a, "--event") || !strcmp(a, "--timeout") ||
			     !strcmp(a, "--default") || !strcmp(a, "--agent") ||
			     !strcmp(a, "--runtime-dir");
		if (takes && !v)
			return cli_usage_error("hook", "option %s needs a value", a);
		if (!strcmp(a, "--wait") || !strcmp(a, "--no-wait")) {
			o->wait = !strcmp(a, "--wait");
			continue;
		}
		if (!takes)
			return cli_usage_error("hook", "unknown option '%s'", a);
		i++;
		if (!strcmp(a, "--event")) {
			if (!*v || strlen(v) > 64)
				return cli_usage_error("hook",
						       "--event '%s' must be 1 to 64 bytes", v);
			o->event = v;
		} else if (!strcmp(a, "--timeout")) {
			char *end;
			o->timeout_s = strtod(v, &end);
			if (*end || end == v || !(o->timeout_s >= 0.1 && o->timeout_s <= 3600))
				return cli_usage_error("hook",
						       "--timeout '%s' must be seconds from 0.1 to 3600", v);
		} else if (!strcmp(a, "--default")) {
			if (!one_of(v, defaults))
				return cli_usage_error("hook",
						       "--default '%s' must be allow, deny, ask or passthrough", v);
			o->dflt = v;
		} else if (!strcmp(a, "--agent")) {
			if (!strcmp(v, "claude-code"))
				o->agent = AGENT_CLAUDE;
			else if (!strcmp(v, "generic"))
				o->agent = AGENT_GENERIC;
			else
				return cli_usage_error("hook",
						       "--agent '%s' must be claude-code or generic", v);
		} else {
			if (!*v || strlen(v) >= sizeof o->runtime_dir)
				return cli_usage_error("hook",
						       "--runtime-dir '%s' is empty or too long", v);
			strcpy(o->runtime_dir, v);
		}
	}
	return 0;
}

static int run_hook(int argc, char **argv)
{
	static const char *const notifications[] = { "Notification", "SessionStart", "SessionEnd",
						      "PreCompact", NULL };
	struct hook_opts opt;
	char why[512];
	int rc = parse_hook_opts(argc, argv, &opt);
	if (rc)
		return rc;

	char *text = malloc(STDIN_MAX + 1);
	size_t len = 0;
	ssize_t n;
	if (!text)
		return failed(&opt, opt.event, "out of memory");
	while (len <= STDIN_MAX && (n = read(STDIN_FILENO, text + len, STDIN_MAX + 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(why, sizeof why, "cannot read stdin: %s", strerror(errno));
			free(text);
			return failed(&opt, opt.event, why);
		}
		len += (size_t)n;
	}
	if (len > STDIN_MAX) {
		free(text);
		snprintf(why, sizeof why, "the hook input is over %d bytes", STDIN_MAX);
		return failed(&opt, opt.event, why);
	}
	text[len] = 0;
	const char *end = NULL;
	cJSON *input = relay_utf8_valid((uint8_t *)text, len)
			       ? cJSON_ParseWithLengthOpts(text, len, &end, 0) : NULL;
	if (!cJSON_IsObject(input)) {
		bool utf8 = relay_utf8_valid((uint8_t *)text, len);
		if (!utf8)
			snprintf(why, sizeof why, "stdin (%zu bytes) is not valid UTF-8", len);
		else if (!input)
			snprintf(why, sizeof why, "stdin (%zu bytes) is not valid JSON: error near byte "
				 "%zu (lone UTF-16 surrogate escapes such as \\ud800 are refused too)",
				 len, end ? (size_t)(end - text) : 0);
		else
			snprintf(why, sizeof why, "stdin (%zu bytes) is JSON but not an object", len);
		cJSON_Delete(input);
		free(text);
		return failed(&opt, opt.event, why);
	}
	const char *event = opt.event ? opt.event
		: cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(input, "hook_event_name"));
	if (!event || !*event || strlen(event) > 64) {
		cJSON_Delete(input);
		free(text);
		return failed(&opt, NULL, "no event: give --event or a hook_event_name in the input");
	}
	bool wait = opt.wait >= 0 ? opt.wait : !one_of(event, notifications);

	int fd = relay_client_connect(opt.runtime_dir);
	cJSON *hello = NULL, *reply = NULL;
	if (fd < 0) {
		snprintf(why, sizeof why, "tetherd is not running (%s/%s: %s)", opt.runtime_dir,
			 RELAY_SOCKET_NAME, strerror(-fd));
	} else if ((hello = relay_client_hello(fd, "tether hook", 10000, why, sizeof why))) {
		cJSON *call = cJSON_CreateObject();
		cJSON_AddStringToObject(call, "type", "hook.call");
		cJSON_AddNumberToObject(call, "id", 2);
		cJSON_AddStringToObject(call, "event", event);
		cJSON_AddStringToObject(call, "agent",
					opt.agent == AGENT_CLAUDE ? "claude-code" : "generic");
		/* As text, so the IDE gets the agent's bytes exactly. */
		cJSON_AddStringToObject(call, "input_json", text);
		cJSON_AddBoolToObject(call, "wait", wait);
		cJSON_AddNumberToObject(call, "timeout_ms", round(opt.timeout_s * 1000));
		char *json = cJSON_PrintUnformatted(call);
		cJSON_Delete(call);
		reply = json ? relay_client_request(fd, json, (int)(opt.timeout_s * 1000) + 5000, why,
						    sizeof why) : NULL;
		cJSON_free(json);
	}
	struct outcome o = { 0 };
	const char *type = cJSON_GetStringValue(cJSON_GetObjectItem(reply, "type"));
	if (!reply) {
		o.failed = true;
		o.why = why;
	} else if (!type || strcmp(type, "hook.call")) {
		const char *m = cJSON_GetStringValue(cJSON_GetObjectItem(reply, "message"));
		snprintf(why, sizeof why, "tetherd refused the hook: %s", m ? m : "unexpected reply");
		o.failed = true;
		o.why = why;
	} else {
		o.decision = cJSON_GetStringValue(cJSON_GetObjectItem(reply, "decision"));
		o.reason = cJSON_GetStringValue(cJSON_GetObjectItem(reply, "reason"));
		o.updated = cJSON_GetObjectItem(reply, "updated_input");
		o.why = cJSON_GetStringValue(cJSON_GetObjectItem(reply, "why"));
		if (!o.decision && !o.why)
			o.why = "no decision";
	}
	rc = finish(&opt, event, &o);
	if (fd >= 0)
		close(fd);
	cJSON_Delete(hello);
	cJSON_Delete(reply);
	cJSON_Delete(input);
	free(text);
	return rc;
}

/* ---- install / uninstall --------------------------------------------------- */

static const char *const install_events[] = { "PreToolUse", "PermissionRequest", "PostToolUse",
					       "UserPromptSubmit", "Stop", "Notification",
					       "SessionStart", "SessionEnd", NULL };
static const char *const tool_events[] = { "PreToolUse", "PermissionRequest", "PostToolUse",
					   NULL };

/* Ours: "<path>/tether hook" with nothing after, or with options. */
static bool is_ours(const char *cmd, const char *mine)
{
	if (!strcmp(cmd, mine))
		return true;
	const char *h = strstr(cmd, "tether hook");
	return h && (h == cmd || h[-1] == '/') && (h[11] == 0 || h[11] == ' ') &&
	       !strchr(cmd, ';') && !strchr(cmd, '|') && !strchr(cmd, '&');
}

/* tether hook install|uninstall's command line. */
struct install_opts {
	bool add;                /* install; false: uninstall */
	const char *verb;        /* "install" or "uninstall", for messages */
	const char *scope;       /* "user" (~/.claude) or "project" (./.claude) */
	long timeout_s;          /* the timeout of the entries we add */
	bool dry;                /* print the result instead of writing it */
};

/* 0, or EXIT_USAGE after saying what was wrong. */
static int parse_install_opts(int argc, char **argv, bool add, struct install_opts *o)
{
	*o = (struct install_opts){ .add = add, .verb = add ? "install" : "uninstall",
				    .scope = "user", .timeout_s = 60 };
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--dry-run")) {
			o->dry = true;
		} else if (!strcmp(a, "--agent") || !strcmp(a, "--scope") || !strcmp(a, "--timeout")) {
			if (!v)
				return cli_usage_error("hook", "option %s needs a value", a);
			i++;
			if (!strcmp(a, "--agent") && strcmp(v, "claude-code"))
				return cli_usage_error("hook", "%s: only --agent claude-code has a "
						       "settings file to edit", o->verb);
			if (!strcmp(a, "--scope")) {
				if (strcmp(v, "user") && strcmp(v, "project"))
					return cli_usage_error("hook",
							       "--scope '%s' must be user or project", v);
				o->scope = v;
			}
			if (!strcmp(a, "--timeout") && !cli_parse_long(v, 1, 3600, &o->timeout_s))
				return cli_usage_error("hook",
						       "--timeout '%s' must be seconds from 1 to 3600", v);
		} else {
			return cli_usage_error("hook", "unknown option '%s'", a);
		}
	}
	return 0;
}

/* The scope's .claude directory and its settings.json; 1 after saying why
 * when the user scope has no HOME. */
static int settings_path(const struct install_opts *o, char dir[PATH_MAX],
			 char path[PATH_MAX + 32])
{
	const char *home = getenv("HOME");
	if (!strcmp(o->scope, "user") && (!home || !*home)) {
		fprintf(stderr, "tether hook %s: HOME is not set\n", o->verb);
		return 1;
	}
	snprintf(dir, PATH_MAX, "%s/.claude", !strcmp(o->scope, "user") ? home : ".");
	snprintf(path, PATH_MAX + 32, "%s/settings.json", dir);
	return 0;
}

/* The command our entries run: this executable's path and " hook", or plain
 * "tether hook" when the path is unknown or has a space. */
static void our_command(char mine[PATH_MAX + 16])
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	self[n > 0 ? n : 0] = 0;
	snprintf(mine, PATH_MAX + 16, "%s hook", n > 0 && !strchr(self, ' ') ? self : "tether");
}

/* The settings file as a JSON object whose "hooks", if present, is an object;
 * st NULL (no file yet): an empty object. NULL after saying why: the file is
 * then left untouched. The caller deletes the result. */
static cJSON *read_settings(const struct install_opts *o, const char *path,
			    const struct stat *st)
{
	cJSON *root = NULL;
	if (st) {
		FILE *f = fopen(path, "rb");
		char *text = f ? malloc((size_t)st->st_size + 1) : NULL;
		size_t got = text ? fread(text, 1, (size_t)st->st_size, f) : 0;
		if (f)
			fclose(f);
		if (text) {
			text[got] = 0;
			root = cJSON_ParseWithLength(text, got);
		}
		free(text);
		if (!cJSON_IsObject(root)) {
			fprintf(stderr, "tether hook %s: %s is not a JSON object; left untouched\n",
				o->verb, path);
			cJSON_Delete(root);
			return NULL;
		}
	} else {
		root = cJSON_CreateObject();
	}
	cJSON *hooks = cJSON_GetObjectItemCaseSensitive(root, "hooks");
	if (hooks && !cJSON_IsObject(hooks)) {
		fprintf(stderr, "tether hook %s: \"hooks\" in %s is not an object; left untouched\n",
			o->verb, path);
		cJSON_Delete(root);
		return NULL;
	}
	return root;
}

/* Gives each of install_events that lacks our command a group running it;
 * an event whose value is not an array is left alone. Returns the entries
 * added. */
static int add_ours(cJSON *root, const char *mine, long timeout_s)
{
	cJSON *hooks = cJSON_GetObjectItemCaseSensitive(root, "hooks");
	int added = 0;
	if (!hooks)
		hooks = cJSON_AddObjectToObject(root, "hooks");
	for (const char *const *ev = install_events; *ev; ev++) {
		cJSON *groups = cJSON_GetObjectItemCaseSensitive(hooks, *ev), *g;
		if (!groups)
			groups = cJSON_AddArrayToObject(hooks, *ev);
		if (!cJSON_IsArray(groups))
			continue;
		bool present = false;
		cJSON_ArrayForEach(g, groups) {
			const cJSON *h;
			cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(g, "hooks")) {
				const char *cmd = cJSON_GetStringValue(cJSON_GetObjectItem(h, "command"));
				present |= cmd && is_ours(cmd, mine);
			}
		}
		if (present)
			continue;
		g = cJSON_CreateObject();
		if (one_of(*ev, tool_events))
			cJSON_AddStringToObject(g, "matcher", "*");
		cJSON *list = cJSON_AddArrayToObject(g, "hooks");
		cJSON *h = cJSON_CreateObject();
		cJSON_AddStringToObject(h, "type", "command");
		cJSON_AddStringToObject(h, "command", mine);
		cJSON_AddNumberToObject(h, "timeout", (double)timeout_s);
		cJSON_AddItemToArray(list, h);
		cJSON_AddItemToArray(groups, g);
		added++;
	}
	return added;
}

/* Removes every entry of ours, with the groups, events and "hooks" object
 * that this leaves empty (and nothing that was empty before). Returns the
 * entries removed. */
static int remove_ours(cJSON *root, const char *mine)
{
	cJSON *hooks = cJSON_GetObjectItemCaseSensitive(root, "hooks");
	int removed_n = 0;
	if (!hooks)
		return 0;
	cJSON *groups = hooks->child, *next_ev;
	for (; groups; groups = next_ev) {
		next_ev = groups->next;
		if (!cJSON_IsArray(groups))
			continue;
		cJSON *g = groups->child, *next_g;
		int before = removed_n;
		for (; g; g = next_g) {
			next_g = g->next;
			cJSON *list = cJSON_GetObjectItemCaseSensitive(g, "hooks");
			cJSON *h = list ? list->child : NULL, *next_h;
			bool removed = false;
			for (; h; h = next_h) {
				next_h = h->next;
				const char *cmd = cJSON_GetStringValue(cJSON_GetObjectItem(h, "command"));
				if (cmd && is_ours(cmd, mine)) {
					cJSON_Delete(cJSON_DetachItemViaPointer(list, h));
					removed = true;
					removed_n++;
				}
			}
			if (removed && !cJSON_GetArraySize(list))
				cJSON_Delete(cJSON_DetachItemViaPointer(groups, g));
		}
		if (!cJSON_GetArraySize(groups) && removed_n > before)
			cJSON_Delete(cJSON_DetachItemViaPointer(hooks, groups));
	}
	if (!hooks->child && removed_n)
		cJSON_Delete(cJSON_DetachItemViaPointer(root, hooks));
	return removed_n;
}

/* Copies path to a name of its own, path.tether-backup-SECONDS (then -1,
 * -2, ... when taken: two runs in one second keep both backups), written
 * into backup. 0, or -errno (said on stderr when no copy could be opened). */
static int back_up(const struct install_opts *o, const char *path, char *backup, size_t len)
{
	int rc = 0;
	FILE *in = fopen(path, "rb"), *out = NULL;
	for (int k = 0; in && !out && k < 1000; k++) {
		snprintf(backup, len, k ? "%s.tether-backup-%ld-%d" : "%s.tether-backup-%ld%.0d",
			 path, (long)time(NULL), k);
		out = fopen(backup, "wbx");
		if (!out && errno != EEXIST)
			break;
	}
	char buf[8192];
	size_t k;
	while (in && out && (k = fread(buf, 1, sizeof buf, in)) > 0)
		if (fwrite(buf, 1, k, out) != k)
			rc = -EIO;
	if (!in || !out) {
		rc = -errno;
		fprintf(stderr, "tether hook %s: cannot back up %s to %s: %s\n", o->verb, path,
			backup, strerror(errno));
	}
	if (in)
		fclose(in);
	if (out && fclose(out))
		rc = -EIO;
	return rc;
}

/* text and a newline into dir/settings.json (path) through a temporary file
 * and a rename, so a reader sees the old file or the new one; dir is made
 * when missing. 0 or -errno. */
static int write_settings(const char *dir, const char *path, const char *text, mode_t mode)
{
	char tmp[PATH_MAX + 64];
	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	snprintf(tmp, sizeof tmp, "%s.tether-tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	int rc = relay_client_write_all(fd, text, strlen(text));
	if (!rc)
		rc = relay_client_write_all(fd, "\n", 1);
	if (close(fd) && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

/* Backs up the old file (st NULL: there is none), writes text in its place,
 * and says what changed. 0, or 1 after saying why. */
static int save_settings(const struct install_opts *o, const char *dir, const char *path,
			 const struct stat *st, const char *text, int changed)
{
	char backup[PATH_MAX + 96] = "";
	int rc = st ? back_up(o, path, backup, sizeof backup) : 0;
	if (rc)
		return 1;
	rc = write_settings(dir, path, text, st ? st->st_mode & 07777 : 0644);
	if (rc) {
		fprintf(stderr, "tether hook %s: cannot write %s: %s\n", o->verb, path, strerror(-rc));
		return 1;
	}
	printf("tether hook %s: %s %d hook entr%s %s %s%s%s\n", o->verb,
	       o->add ? "added" : "removed", changed, changed == 1 ? "y" : "ies",
	       o->add ? "to" : "from", path, st ? "; backup: " : "", st ? backup : "");
	return 0;
}

/* tether hook install|uninstall (add false): our entries into or out of
 * Claude Code's settings file, everything else in it kept. */
static int install(int argc, char **argv, bool add)
{
	struct install_opts o;
	char dir[PATH_MAX], path[PATH_MAX + 32], mine[PATH_MAX + 16];
	int rc = parse_install_opts(argc, argv, add, &o);
	if (rc || (rc = settings_path(&o, dir, path)))
		return rc;
	our_command(mine);

	struct stat st;
	bool exists = stat(path, &st) == 0;
	cJSON *root = read_settings(&o, path, exists ? &st : NULL);
	if (!root)
		return 1;
	int changed = add ? add_ours(root, mine, o.timeout_s) : remove_ours(root, mine);
	char *text = cJSON_Print(root);
	cJSON_Delete(root);
	if (!text)
		return 1;
	if (o.dry)
		printf("%s\n", text);
	else if (changed)
		rc = save_settings(&o, dir, path, exists ? &st : NULL, text, changed);
	else
		printf("tether hook %s: nothing to change in %s\n", o.verb, path);
	cJSON_free(text);
	return rc;
}

int relay_cli_hook(int argc, char **argv)
{
	if (argc && !strcmp(argv[0], "install"))
		return install(argc - 1, argv + 1, true);
	if (argc && !strcmp(argv[0], "uninstall"))
		return install(argc - 1, argv + 1, false);
	return run_hook(argc, argv);
}
