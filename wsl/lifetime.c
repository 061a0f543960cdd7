/*
 * Lifetime: a WSL distro lives while a Windows process of it lives; after the
 * last one exits, general.instanceIdleTimeout (default 15000 ms, -1 never)
 * stops it, and wsl2.vmIdleTimeout (60000 ms) the VM. systemd units do not
 * count. tether's anchor (`tether anchor`, run by tether-shim on Windows)
 * is the process that holds it: it keeps RUNTIME_DIR/anchor.json, and the
 * distro is anchored when that file names a live pid.
 *
 * The Windows user's .wslconfig is read when it is reachable under the
 * automount root (<automount.root>c/Users/<user>/.wslconfig) and exactly one
 * exists: from inside, the Windows user running this distro cannot be told
 * apart from the other profiles.
 */
#include <errno.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void wsl_read_wslconfig(const struct wsl_detect_opts *o, struct wsl_platform *p)
{
	char pattern[WSL_PATH_MAX], full[WSL_PATH_MAX + 64];
	wsl_conf_parse("", 0, WSL_DIALECT_WINDOWS, &p->wslconf);
	p->wslconfig = WSL_WSLCONFIG_NOT_LOOKED;

	if ((p->kind == WSL_KIND_WSL1 || p->kind == WSL_KIND_WSL2) && (o->flags & WSL_DETECT_THOROUGH)) {
		const char *am = wsl_conf_str(&p->conf, WSL_KEY_AUTOMOUNT_ROOT);
		size_t al = strlen(am);
		snprintf(pattern, sizeof pattern, "%s%sc/Users/*/.wslconfig", am,
			 al && am[al - 1] == '/' ? "" : "/");
		if (!wsl_conf_bool(&p->conf, WSL_KEY_AUTOMOUNT_ENABLED)) {
			p->wslconfig = WSL_WSLCONFIG_NONE;
			snprintf(p->wslconfig_error, sizeof p->wslconfig_error, "automount is off in "
				 "/etc/wsl.conf: Windows drives are not mounted");
		} else if (wsl_rooted(full, sizeof full, o->root, pattern) == 0) {
			glob_t g;
			size_t rl = strlen(full) - strlen(pattern);
			int rc = glob(full, 0, NULL, &g);
			if (rc == GLOB_NOMATCH || (rc == 0 && g.gl_pathc == 0)) {
				p->wslconfig = WSL_WSLCONFIG_NONE;
				snprintf(p->wslconfig_error, sizeof p->wslconfig_error, "no %s", pattern);
			} else if (rc) {
				p->wslconfig = WSL_WSLCONFIG_UNREADABLE;
				snprintf(p->wslconfig_error, sizeof p->wslconfig_error, "cannot list %s",
					 pattern);
			} else if (g.gl_pathc > 1) {
				p->wslconfig = WSL_WSLCONFIG_AMBIGUOUS;
				int n = snprintf(p->wslconfig_error, sizeof p->wslconfig_error,
						 "%zu profiles have one (", g.gl_pathc);
				for (size_t i = 0; i < g.gl_pathc && n > 0 &&
						   (size_t)n < sizeof p->wslconfig_error; i++)
					n += snprintf(p->wslconfig_error + n, sizeof p->wslconfig_error - (size_t)n,
						      "%s%s", i ? ", " : "", g.gl_pathv[i] + rl);
				if (n > 0 && (size_t)n < sizeof p->wslconfig_error - 1)
					snprintf(p->wslconfig_error + n, sizeof p->wslconfig_error - (size_t)n,
						 ")");
			} else {
				char *text = NULL;
				snprintf(p->wslconfig_path, sizeof p->wslconfig_path, "%s",
					 g.gl_pathv[0] + rl);
				ssize_t len = wsl_read_alloc(o->root, p->wslconfig_path, 1 << 20, &text);
				if (len < 0) {
					p->wslconfig = WSL_WSLCONFIG_UNREADABLE;
					snprintf(p->wslconfig_error, sizeof p->wslconfig_error,
						 "cannot read %s: %s", p->wslconfig_path,
						 len == -EFBIG ? "larger than 1 MiB" : strerror((int)-len));
				} else {
					p->wslconfig = WSL_WSLCONFIG_READ;
					wsl_conf_parse(text, (size_t)len, WSL_DIALECT_WINDOWS, &p->wslconf);
					free(text);
				}
			}
			if (rc == 0)
				globfree(&g);
		}
	}
	p->instance_idle_timeout_ms = wsl_conf_int(&p->wslconf, WSL_KEY_GENERAL_INSTANCEIDLETIMEOUT);
	p->vm_idle_timeout_ms = wsl_conf_int(&p->wslconf, WSL_KEY_WSL2_VMIDLETIMEOUT);
	const struct wsl_conf_item *it = &p->wslconf.item[WSL_KEY_GENERAL_INSTANCEIDLETIMEOUT];
	p->idle_from_wslconfig = p->wslconfig == WSL_WSLCONFIG_READ && it->line && it->valid;
}

static bool str_member(const cJSON *o, const char *name, char *out, size_t size)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
	if (!cJSON_IsString(v) || strlen(v->valuestring) >= size)
		return false;
	snprintf(out, size, "%s", v->valuestring);
	return true;
}

void wsl_detect_lifetime(const struct wsl_detect_opts *o, struct wsl_platform *p)
{
	char path[WSL_PATH_MAX + 32];
	p->anchor = WSL_ANCHOR_UNCHECKED;
	if (!o->runtime_dir)
		return;
	snprintf(path, sizeof path, "%s/anchor.json", o->runtime_dir);
	char *text = NULL;
	ssize_t n = wsl_read_alloc("/", path, 65536, &text);
	if (n == -ENOENT) {
		p->anchor = WSL_ANCHOR_NONE;
		snprintf(p->anchor_detail, sizeof p->anchor_detail, "no anchor.json in the runtime dir");
		return;
	}
	if (n < 0) {
		p->anchor = WSL_ANCHOR_MALFORMED;
		snprintf(p->anchor_detail, sizeof p->anchor_detail, "cannot read anchor.json: %s",
			 n == -EFBIG ? "larger than 64 KiB" : strerror((int)-n));
		return;
	}
	cJSON *j = cJSON_ParseWithLength(text, (size_t)n);
	free(text);
	const cJSON *pid = cJSON_GetObjectItemCaseSensitive(j, "pid");
	const cJSON *restarts = cJSON_GetObjectItemCaseSensitive(j, "restarts");
	if (!cJSON_IsObject(j) || !cJSON_IsNumber(pid) || pid->valuedouble < 1 ||
	    pid->valuedouble > 4194304 || pid->valuedouble != (double)(long)pid->valuedouble ||
	    !str_member(j, "mode", p->anchor_mode, sizeof p->anchor_mode) ||
	    !str_member(j, "state", p->anchor_status, sizeof p->anchor_status)) {
		p->anchor = WSL_ANCHOR_MALFORMED;
		snprintf(p->anchor_detail, sizeof p->anchor_detail, "anchor.json is not an object "
			 "with an integer \"pid\" and string \"mode\" and \"state\"");
		cJSON_Delete(j);
		return;
	}
	p->anchor_pid = (long)pid->valuedouble;
	p->anchor_restarts = cJSON_IsNumber(restarts) ? (long)restarts->valuedouble : 0;
	cJSON_Delete(j);
	if (strcmp(p->anchor_mode, "supervise") && strcmp(p->anchor_mode, "systemd")) {
		p->anchor = WSL_ANCHOR_MALFORMED;
		snprintf(p->anchor_detail, sizeof p->anchor_detail, "anchor.json has mode \"%s\", "
			 "not supervise or systemd", p->anchor_mode);
		return;
	}
	if (strcmp(p->anchor_status, "running") && strcmp(p->anchor_status, "backoff") &&
	    strcmp(p->anchor_status, "gave-up") && strcmp(p->anchor_status, "starting")) {
		p->anchor = WSL_ANCHOR_MALFORMED;
		snprintf(p->anchor_detail, sizeof p->anchor_detail, "anchor.json has state \"%s\", "
			 "not running, backoff, gave-up or starting", p->anchor_status);
		return;
	}
	if (wsl_pid_alive(o->root, p->anchor_pid)) {
		p->anchor = WSL_ANCHOR_ALIVE;
		snprintf(p->anchor_detail, sizeof p->anchor_detail, "tether anchor (pid %ld, mode %s, "
			 "state %s, %ld restarts) is alive", p->anchor_pid, p->anchor_mode,
			 p->anchor_status, p->anchor_restarts);
	} else {
		p->anchor = WSL_ANCHOR_STALE;
		snprintf(p->anchor_detail, sizeof p->anchor_detail, "anchor.json names pid %ld, which "
			 "is not running (stale)", p->anchor_pid);
	}
}
