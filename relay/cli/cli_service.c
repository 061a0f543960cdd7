/*
 * tether service install|uninstall|status [--dry-run]: makes tetherd start
 * with the distro. With systemd as PID 1 that is a user unit (plus its socket
 * unit) and lingering, so it runs without anyone logged in; without systemd
 * there is nothing to install in Linux, and it prints the command Windows
 * keeps running instead (tether anchor, through tether-shim).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "units.h"   /* generated from systemd/ by CMake: UNIT_SERVICE_IN, UNIT_SOCKET_IN */

#define MARKER "# Installed by `tether service install`; `tether service uninstall` removes it.\n"

extern char **environ;

struct service_opts {
	bool dry_run;
	int systemd;            /* 1 yes, 0 no, -1 detect */
	char unit_dir[PATH_MAX];
	char tetherd[PATH_MAX];
	char tether[PATH_MAX];
	int port;               /* tetherd's port setting, for the socket unit */
};

/* Runs argv (PATH lookup, no shell), waits, returns its exit code or -1. */
static int run(char *const argv[], bool quiet)
{
	pid_t pid;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	if (quiet) {
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
		posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	}
	int rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc)
		return -1;
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void show(const struct service_opts *o, char *const argv[])
{
	printf("%s ", o->dry_run ? "would run:" : "running:  ");
	for (int i = 0; argv[i]; i++)
		printf("%s%s", argv[i], argv[i + 1] ? " " : "\n");
}

static int step(const struct service_opts *o, char *const argv[])
{
	show(o, argv);
	if (o->dry_run)
		return 0;
	int rc = run(argv, false);
	if (rc)
		fprintf(stderr, "tether service: %s exited with %d\n", argv[0], rc);
	return rc;
}

/* A file at the unit's path that tether did not write is never overwritten. */
static int check_unit(const struct service_opts *o, const char *name)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/%s", o->unit_dir, name);
	char *old = relay_read_text(path, 65536);
	bool foreign = old && !strstr(old, MARKER);
	free(old);
	if (foreign)
		fprintf(stderr, "tether service: %s exists and was not written by tether; move it "
			"away first\n", path);
	return foreign;
}

static int write_unit(const struct service_opts *o, const char *name, const char *content)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/%s", o->unit_dir, name);
	char *old = relay_read_text(path, 65536);
	const char *what = !old ? "create" : strcmp(old, content) ? "replace" : NULL;
	bool foreign = old && !strstr(old, MARKER);
	free(old);
	if (!what) {
		printf("unchanged:  %s\n", path);
		return 0;
	}
	if (foreign) {
		fprintf(stderr, "tether service: %s exists and was not written by tether; move it "
			"away first\n", path);
		return 1;
	}
	printf("%s %s %s:\n", o->dry_run ? "would" : "will ", what, path);
	for (const char *p = content; *p;) {
		const char *nl = strchr(p, '\n');
		int n = nl ? (int)(nl - p) : (int)strlen(p);
		printf("    | %.*s\n", n, p);
		p += n + (nl ? 1 : 0);
	}
	if (o->dry_run)
		return 0;
	relay_mkdir_parents(o->unit_dir, 0755);   /* the write below reports a failure */
	char tmp[PATH_MAX + 80];
	snprintf(tmp, sizeof tmp, "%s.tether-tmp", path);
	FILE *f = fopen(tmp, "w");
	if (!f || fputs(content, f) < 0 || fclose(f) || rename(tmp, path)) {
		fprintf(stderr, "tether service: cannot write %s: %s\n", path, strerror(errno));
		unlink(tmp);
		return 1;
	}
	return 0;
}

/* Replaces every @NAME@ in a template; returns a malloc'd text with MARKER first. */
static char *fill(const char *template, const char *name, const char *value)
{
	size_t n = 0, nlen = strlen(name), vlen = strlen(value);
	for (const char *p = strstr(template, name); p; p = strstr(p + nlen, name))
		n++;
	size_t len = strlen(MARKER) + strlen(template) + n * vlen + 1;
	char *text = malloc(len), *out = text;
	if (!text)
		return NULL;
	out += sprintf(out, "%s", MARKER);
	for (const char *p = template;;) {
		const char *at = strstr(p, name);
		if (!at) {
			strcpy(out, p);
			return text;
		}
		memcpy(out, p, (size_t)(at - p));
		out += at - p;
		memcpy(out, value, vlen);
		out += vlen;
		p = at + nlen;
	}
}

/* ExecStart= takes a quoted word; systemd expands % and $ in it, so those are
 * doubled, and a path that needs more escaping than that is refused. */
static int quote_exec(const char *path, char *buf, size_t len)
{
	size_t k = 0;
	if (len < 3)
		return -1;
	buf[k++] = '"';
	for (const char *p = path; *p; p++) {
		if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
			return -1;
		if (k + 4 >= len)
			return -1;
		if (*p == '%' || *p == '$')
			buf[k++] = *p;
		buf[k++] = *p;
	}
	buf[k++] = '"';
	buf[k] = 0;
	return 0;
}

static const char *user_name(void)
{
	struct passwd *pw = getpwuid(getuid());
	return pw ? pw->pw_name : "";
}

static void print_windows_side(const struct service_opts *o)
{
	const char *distro = getenv("WSL_DISTRO_NAME");
	printf("On Windows, keep the distro and tetherd up from logon with:\n"
	       "    tether-shim install --distro %s\n"
	       "which keeps this running: wsl.exe -d %s --exec %s anchor\n",
	       distro ? distro : "<your distro>", distro ? distro : "<your distro>", o->tether);
}

static int install(struct service_opts *o)
{
	if (!o->systemd) {
		printf("systemd is not PID 1 here: there is nothing to install in Linux. `tether "
		       "anchor` starts and supervises tetherd itself.\n");
		print_windows_side(o);
		return 0;
	}
	char exec[2 * PATH_MAX + 3], port[16];
	if (quote_exec(o->tetherd, exec, sizeof exec)) {
		fprintf(stderr, "tether service: tetherd's path %s has a quote, a backslash or a "
			"control character, which a unit file cannot hold safely\n", o->tetherd);
		return 1;
	}
	if (o->port == 0) {
		fprintf(stderr, "tether service: tetherd's port setting is 0 (any free port), "
			"which a socket unit cannot listen on; set a port in its config first\n");
		return 1;
	}
	snprintf(port, sizeof port, "%d", o->port);
	char *unit = fill(UNIT_SERVICE_IN, "@TETHERD@", exec);
	char *socket_unit = fill(UNIT_SOCKET_IN, "@PORT@", port);
	int rc = !unit || !socket_unit;
	/* Both checked before either is written: no half install. */
	if (!rc)
		rc = check_unit(o, "tetherd.service") || check_unit(o, "tetherd.socket");
	if (!rc)
		rc = write_unit(o, "tetherd.service", unit);
	if (!rc)
		rc = write_unit(o, "tetherd.socket", socket_unit);
	free(unit);
	free(socket_unit);
	if (rc)
		return rc;
	char *reload[] = { "systemctl", "--user", "daemon-reload", NULL };
	char *enable[] = { "systemctl", "--user", "enable", "--now", "tetherd.socket",
			   "tetherd.service", NULL };
	if ((rc = step(o, reload)) || (rc = step(o, enable)))
		return 1;
	char linger[64], cmd[128];
	snprintf(cmd, sizeof cmd, "loginctl show-user '%s' --property=Linger --value 2>/dev/null",
		 user_name());
	relay_first_line_of(cmd, linger, sizeof linger);
	if (strcmp(linger, "yes")) {
		/* Without lingering the user manager, and tetherd with it, stops
		 * when the last session of this user ends. */
		char *enable_linger[] = { "loginctl", "enable-linger", (char *)user_name(), NULL };
		if (step(o, enable_linger))
			fprintf(stderr, "tether service: lingering is off, so tetherd stops with your "
				"last session; run `sudo loginctl enable-linger %s`\n", user_name());
	} else {
		printf("unchanged:  lingering is already on for %s\n", user_name());
	}
	if (!o->dry_run)
		printf("tetherd.service is enabled; `tether service status` shows it.\n");
	print_windows_side(o);
	return 0;
}

static int uninstall(struct service_opts *o)
{
	if (!o->systemd) {
		printf("systemd is not PID 1 here: nothing was installed in Linux. On Windows, "
		       "`tether-shim uninstall` removes the logon entry.\n");
		return 0;
	}
	static const char *const names[] = { "tetherd.socket", "tetherd.service" };
	char *disable[] = { "systemctl", "--user", "disable", "--now", "tetherd.socket",
			    "tetherd.service", NULL };
	char *reload[] = { "systemctl", "--user", "daemon-reload", NULL };
	bool ours = false;
	for (int i = 0; i < 2; i++) {
		char path[PATH_MAX + 64];
		snprintf(path, sizeof path, "%s/%s", o->unit_dir, names[i]);
		char *old = relay_read_text(path, 65536);
		ours |= old && strstr(old, MARKER);
		free(old);
	}
	/* Units tether did not install are not tether's to disable. */
	if (ours)
		step(o, disable);
	else
		printf("no unit installed by tether in %s: nothing to disable\n", o->unit_dir);
	for (int i = 0; i < 2; i++) {
		char path[PATH_MAX + 64];
		snprintf(path, sizeof path, "%s/%s", o->unit_dir, names[i]);
		char *old = relay_read_text(path, 65536);
		if (!old) {
			printf("absent:     %s\n", path);
		} else if (!strstr(old, MARKER)) {
			printf("kept:       %s (not written by tether)\n", path);
		} else {
			printf("%s %s\n", o->dry_run ? "would remove:" : "removing:  ", path);
			if (!o->dry_run && unlink(path))
				fprintf(stderr, "tether service: cannot remove %s: %s\n", path,
					strerror(errno));
		}
		free(old);
	}
	step(o, reload);
	printf("Lingering is left as it is (other services may rely on it): "
	       "`loginctl disable-linger %s` turns it off.\n", user_name());
	return 0;
}

static int status(struct service_opts *o)
{
	printf("init:       %s\n", o->systemd ? "systemd is PID 1" : "systemd is not PID 1");
	if (!o->systemd) {
		printf("mechanism:  tether anchor supervises tetherd (nothing to install in Linux)\n");
		print_windows_side(o);
		return 0;
	}
	static const char *const names[] = { "tetherd.service", "tetherd.socket" };
	for (int i = 0; i < 2; i++) {
		char path[PATH_MAX + 64], enabled[64], active[64], cmd[160];
		snprintf(path, sizeof path, "%s/%s", o->unit_dir, names[i]);
		snprintf(cmd, sizeof cmd, "systemctl --user is-enabled %s 2>/dev/null", names[i]);
		relay_first_line_of(cmd, enabled, sizeof enabled);
		snprintf(cmd, sizeof cmd, "systemctl --user is-active %s 2>/dev/null", names[i]);
		relay_first_line_of(cmd, active, sizeof active);
		printf("%-16s %s; %s, %s\n", names[i],
		       access(path, F_OK) ? "not installed" : path, *enabled ? enabled : "unknown",
		       *active ? active : "unknown");
	}
	char linger[64], cmd[128];
	snprintf(cmd, sizeof cmd, "loginctl show-user '%s' --property=Linger --value 2>/dev/null",
		 user_name());
	relay_first_line_of(cmd, linger, sizeof linger);
	printf("lingering:  %s\n", *linger ? linger : "unknown");
	return 0;
}

int relay_cli_service(int argc, char **argv)
{
	struct service_opts o = { .systemd = -1 };
	const char *verb = NULL;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--dry-run")) {
			o.dry_run = true;
		} else if (!strcmp(argv[i], "--init")) {
			const char *v = i + 1 < argc ? argv[++i] : "";
			if (!strcmp(v, "systemd"))
				o.systemd = 1;
			else if (!strcmp(v, "none"))
				o.systemd = 0;
			else
				return cli_usage_error("service",
						       "--init must be systemd or none, got '%s'", v);
		} else if (!verb && argv[i][0] != '-') {
			verb = argv[i];
		} else {
			return cli_usage_error("service", "unknown argument '%s'", argv[i]);
		}
	}
	if (!verb)
		return cli_usage_error("service", "%s", "needs install, uninstall or status");
	if (o.systemd < 0) {
		struct stat st;
		o.systemd = !stat("/run/systemd/system", &st) && S_ISDIR(st.st_mode);
	}
	const char *xdg = getenv("XDG_CONFIG_HOME"), *home = getenv("HOME");
	if (xdg && *xdg == '/')
		snprintf(o.unit_dir, sizeof o.unit_dir, "%s/systemd/user", xdg);
	else if (home && *home == '/')
		snprintf(o.unit_dir, sizeof o.unit_dir, "%s/.config/systemd/user", home);
	else if (o.systemd)
		return cli_usage_error("service", "%s", "neither XDG_CONFIG_HOME nor HOME is set");
	{   /* the port tetherd will use: its config file's, else the default */
		struct relay_config cfg;
		char err[RELAY_ERR_MAX];
		if (relay_config_load(&cfg, NULL, err)) {
			fprintf(stderr, "tether service: %s\n", err);
			return 1;
		}
		o.port = cfg.port;
	}
	relay_ensure_user_bus_env();
	/* the binaries next to this one: what the unit and the shim should run */
	relay_sibling_exe("tetherd", o.tetherd, sizeof o.tetherd);
	relay_sibling_exe("tether", o.tether, sizeof o.tether);
	if (o.systemd && o.tetherd[0] != '/')
		return cli_usage_error("service", "%s", "cannot tell where tetherd is installed");
	if (!strcmp(verb, "install"))
		return install(&o);
	if (!strcmp(verb, "uninstall"))
		return uninstall(&o);
	if (!strcmp(verb, "status"))
		return status(&o);
	return cli_usage_error("service", "unknown subcommand '%s' (install, uninstall or status)", verb);
}
