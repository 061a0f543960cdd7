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

#define EXIT_USAGE 2
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

static int usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "tether hook: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see docs/hooks.md)\n");
	return EXIT_USAGE;
}

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
			return usage("option %s needs a value", a);
		if (!strcmp(a, "--wait") || !strcmp(a, "--no-wait")) {
			o->wait = !strcmp(a, "--wait");
			continue;
		}
		if (!takes)
			return usage("unknown option '%s'", a);
		i++;
		if (!strcmp(a, "--event")) {
			if (!*v || strlen(v) > 64)
				return usage("--event '%s' must be 1 to 64 bytes", v);
			o->event = v;
		} else if (!strcmp(a, "--timeout")) {
			char *end;
			o->timeout_s = strtod(v, &end);
			if (*end || end == v || !(o->timeout_s >= 0.1 && o->timeout_s <= 3600))
				return usage("--timeout '%s' must be seconds from 0.1 to 3600", v);
		} else if (!strcmp(a, "--default")) {
			if (!one_of(v, defaults))
				return usage("--default '%s' must be allow, deny, ask or passthrough", v);
			o->dflt = v;
		} else if (!strcmp(a, "--agent")) {
			if (!strcmp(v, "claude-code"))
				o->agent = AGENT_CLAUDE;
			else if (!strcmp(v, "generic"))
				o->agent = AGENT_GENERIC;
			else
				return usage("--agent '%s' must be claude-code or generic", v);
		} else {
			if (!*v || strlen(v) >= sizeof o->runtime_dir)
				return usage("--runtime-dir '%s' is empty or too long", v);
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

static int write_settings(const char *path, const char *text, mode_t mode)
{
	char tmp[PATH_MAX + 64];
	snprintf(tmp, sizeof tmp, "%s.tether-tmp", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	int rc = relay_client_write_all(fd, text, strlen(text));
	if (close(fd) && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

static int install(int argc, char **argv, bool add)
{
	const char *verb = add ? "install" : "uninstall", *scope = "user";
	long timeout = 60;
	bool dry = false;
	char path[PATH_MAX + 32], dir[PATH_MAX], mine[PATH_MAX + 16], self[PATH_MAX];

	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--dry-run")) {
			dry = true;
		} else if (!strcmp(a, "--agent") || !strcmp(a, "--scope") || !strcmp(a, "--timeout")) {
			if (!v)
				return usage("option %s needs a value", a);
			i++;
			if (!strcmp(a, "--agent") && strcmp(v, "claude-code"))
				return usage("%s: only --agent claude-code has a settings file to edit", verb);
			if (!strcmp(a, "--scope")) {
				if (strcmp(v, "user") && strcmp(v, "project"))
					return usage("--scope '%s' must be user or project", v);
				scope = v;
			}
			if (!strcmp(a, "--timeout")) {
				char *end;
				timeout = strtol(v, &end, 10);
				if (*end || timeout < 1 || timeout > 3600)
					return usage("--timeout '%s' must be seconds from 1 to 3600", v);
			}
		} else {
			return usage("unknown option '%s'", a);
		}
	}
	const char *home = getenv("HOME");
	if (!strcmp(scope, "user") && (!home || !*home)) {
		fprintf(stderr, "tether hook %s: HOME is not set\n", verb);
		return 1;
	}
	snprintf(dir, sizeof dir, "%s/.claude", !strcmp(scope, "user") ? home : ".");
	snprintf(path, sizeof path, "%s/settings.json", dir);
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	self[n > 0 ? n : 0] = 0;
	snprintf(mine, sizeof mine, "%s hook", n > 0 && !strchr(self, ' ') ? self : "tether");

	struct stat st;
	bool exists = stat(path, &st) == 0;
	cJSON *root = NULL;
	if (exists) {
		FILE *f = fopen(path, "rb");
		char *text = f ? malloc((size_t)st.st_size + 1) : NULL;
		size_t got = text ? fread(text, 1, (size_t)st.st_size, f) : 0;
		if (f)
			fclose(f);
		if (text) {
			text[got] = 0;
			root = cJSON_ParseWithLength(text, got);
		}
		free(text);
		if (!cJSON_IsObject(root)) {
			fprintf(stderr, "tether hook %s: %s is not a JSON object; left untouched\n", verb,
				path);
			cJSON_Delete(root);
			return 1;
		}
	} else {
		root = cJSON_CreateObject();
	}

	cJSON *hooks = cJSON_GetObjectItemCaseSensitive(root, "hooks");
	int changed = 0;
	if (hooks && !cJSON_IsObject(hooks)) {
		fprintf(stderr, "tether hook %s: \"hooks\" in %s is not an object; left untouched\n",
			verb, path);
		cJSON_Delete(root);
		return 1;
	}
	if (add) {
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
			cJSON_AddNumberToObject(h, "timeout", (double)timeout);
			cJSON_AddItemToArray(list, h);
			cJSON_AddItemToArray(groups, g);
			changed++;
		}
	} else if (hooks) {
		cJSON *groups = hooks->child, *next_ev;
		for (; groups; groups = next_ev) {
			next_ev = groups->next;
			if (!cJSON_IsArray(groups))
				continue;
			cJSON *g = groups->child, *next_g;
			int before = changed;
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
						changed++;
					}
				}
				if (removed && !cJSON_GetArraySize(list))
					cJSON_Delete(cJSON_DetachItemViaPointer(groups, g));
			}
			if (!cJSON_GetArraySize(groups) && changed > before)
				cJSON_Delete(cJSON_DetachItemViaPointer(hooks, groups));
		}
		if (!hooks->child && changed)
			cJSON_Delete(cJSON_DetachItemViaPointer(root, hooks));
	}

	char *text = cJSON_Print(root);
	cJSON_Delete(root);
	if (!text)
		return 1;
	if (dry) {
		printf("%s\n", text);
		cJSON_free(text);
		return 0;
	}
	int rc = 0;
	if (changed) {
		char backup[PATH_MAX + 96] = "";
		if (exists) {
			/* A new name every time: two runs in one second keep both backups. */
			FILE *in = fopen(path, "rb"), *out = NULL;
			for (int k = 0; in && !out && k < 1000; k++) {
				snprintf(backup, sizeof backup, k ? "%s.tether-backup-%ld-%d"
								  : "%s.tether-backup-%ld%.0d",
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
				fprintf(stderr, "tether hook %s: cannot back up %s to %s: %s\n", verb, path,
					backup, strerror(errno));
			}
			if (in)
				fclose(in);
			if (out && fclose(out))
				rc = -EIO;
			if (rc)
				goto out;
		}
		if (!rc && mkdir(dir, 0755) && errno != EEXIST)
			rc = -errno;
		char body[strlen(text) + 2];
		snprintf(body, sizeof body, "%s\n", text);
		if (!rc)
			rc = write_settings(path, body, exists ? st.st_mode & 07777 : 0644);
		if (rc)
			fprintf(stderr, "tether hook %s: cannot write %s: %s\n", verb, path, strerror(-rc));
		else
			printf("tether hook %s: %s %d hook entr%s %s %s%s%s\n", verb,
			       add ? "added" : "removed", changed, changed == 1 ? "y" : "ies",
			       add ? "to" : "from", path, exists ? "; backup: " : "",
			       exists ? backup : "");
	} else {
		printf("tether hook %s: nothing to change in %s\n", verb, path);
	}
out:
	cJSON_free(text);
	return rc ? 1 : 0;
}

int relay_cli_hook(int argc, char **argv)
{
	if (argc && !strcmp(argv[0], "install"))
		return install(argc - 1, argv + 1, true);
	if (argc && !strcmp(argv[0], "uninstall"))
		return install(argc - 1, argv + 1, false);
	return run_hook(argc, argv);
}
