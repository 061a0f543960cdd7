/*
 * tether-shim.exe / tether-shimw.exe: the commands and their dispatch table.
 * The same objects are linked twice: tether-shim.exe for the console (every
 * command prints), tether-shimw.exe for the GUI subsystem, which is what the
 * logon entry starts so that no console window flashes at logon.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "win32.h"

#define RUN_KEY L"Software\\Microsoft\\Windows\\CurrentVersion\\Run"

struct opts {
	const char *distro;   /* --distro, or NULL */
};

static int parse_opts(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof *o);
	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--distro") && i + 1 < argc) {
			o->distro = argv[++i];
		} else if (!strncmp(argv[i], "--distro=", 9)) {
			o->distro = argv[i] + 9;
		} else {
			w32_err("tether-shim: unknown option '%s' (see --help)\n", argv[i]);
			return -EINVAL;
		}
		if (!*o->distro || strlen(o->distro) >= SHIM_DISTRO_MAX) {
			w32_err("tether-shim: --distro needs a name shorter than %d bytes\n",
				SHIM_DISTRO_MAX);
			return -EINVAL;
		}
	}
	return 0;
}

/* The config with --distro applied; prints the error. */
static int load(struct shim_config *cfg, const struct opts *o, char *path, size_t cap)
{
	char err[SHIM_ERR_MAX];
	shim_config_defaults(cfg);
	if (w32_shim_path(path, cap, "shim.json")) {
		w32_err("tether-shim: neither TETHER_SHIM_DIR nor LOCALAPPDATA is set\n");
		return -ENOENT;
	}
	if (w32_load_config(cfg, path, err)) {
		w32_err("tether-shim: %s\n", err);
		return -EINVAL;
	}
	if (o->distro)
		snprintf(cfg->distro, sizeof cfg->distro, "%s", o->distro);
	return 0;
}

static void value_name(const char *distro, char *out, size_t cap)
{
	if (distro && *distro)
		snprintf(out, cap, "tether-shim %s", distro);
	else
		snprintf(out, cap, "tether-shim");
}

static int cmd_install(int argc, char **argv)
{
	struct opts o;
	struct shim_config cfg;
	char path[SHIM_PATH_MAX], dir[SHIM_PATH_MAX], name[SHIM_DISTRO_MAX + 16];
	char cmd[4 * SHIM_PATH_MAX];
	wchar_t self[MAX_PATH];
	HKEY key;

	if (parse_opts(argc, argv, &o))
		return EXIT_USAGE;
	if (load(&cfg, &o, path, sizeof path))
		return EXIT_ERROR;
	if (w32_shim_dir(dir, sizeof dir, true)) {
		w32_err("tether-shim: cannot create %s\n", dir);
		return EXIT_ERROR;
	}
	DWORD n = GetModuleFileNameW(NULL, self, MAX_PATH);
	if (!n || n >= MAX_PATH) {
		w32_err("tether-shim: cannot find my own path\n");
		return EXIT_ERROR;
	}
	/* The logon entry starts the GUI-subsystem twin, next to this file. */
	wchar_t *slash = wcsrchr(self, L'\\');
	if (!slash || (size_t)(slash - self) + 20 >= MAX_PATH) {
		w32_err("tether-shim: unexpected path of tether-shim.exe\n");
		return EXIT_ERROR;
	}
	wcscpy(slash + 1, L"tether-shimw.exe");
	char *gui = w32_utf8(self);
	if (!gui || GetFileAttributesW(self) == INVALID_FILE_ATTRIBUTES) {
		w32_err("tether-shim: %s is missing: it must sit next to tether-shim.exe\n",
			gui ? gui : "tether-shimw.exe");
		free(gui);
		return EXIT_ERROR;
	}
	const char *run_argv[4] = { gui, "run", "--distro", o.distro };
	if (shim_cmdline_build(cmd, sizeof cmd, run_argv, o.distro ? 4 : 2) < 0) {
		w32_err("tether-shim: cannot quote the command for %s\n", gui);
		free(gui);
		return EXIT_ERROR;
	}
	free(gui);
	value_name(o.distro, name, sizeof name);
	wchar_t *wname = w32_wide(name), *wcmd = w32_wide(cmd);
	LONG rc = RegCreateKeyExW(HKEY_CURRENT_USER, RUN_KEY, 0, NULL, 0, KEY_SET_VALUE, NULL, &key,
				  NULL);
	if (rc == ERROR_SUCCESS) {
		rc = RegSetValueExW(key, wname, 0, REG_SZ, (const BYTE *)wcmd,
				    (DWORD)((wcslen(wcmd) + 1) * sizeof(wchar_t)));
		RegCloseKey(key);
	}
	free(wname);
	free(wcmd);
	if (rc != ERROR_SUCCESS) {
		char why[256];
		w32_err("tether-shim: cannot write HKCU\\Software\\Microsoft\\Windows\\CurrentVersion"
			"\\Run: %s\n", w32_strerror((DWORD)rc, why, sizeof why));
		return EXIT_ERROR;
	}
	w32_out("installed: HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\%s = %s\n",
		name, cmd);
	w32_out("it starts at the next logon; to start it now: %s\nconfig: %s (optional)\n"
		"log: %s\\shim.log\n", cmd, path, dir);
	return EXIT_OK;
}

static int cmd_uninstall(int argc, char **argv)
{
	struct opts o;
	char name[SHIM_DISTRO_MAX + 16];
	HKEY key;

	if (parse_opts(argc, argv, &o))
		return EXIT_USAGE;
	value_name(o.distro, name, sizeof name);
	wchar_t *wname = w32_wide(name);
	LONG rc = RegOpenKeyExW(HKEY_CURRENT_USER, RUN_KEY, 0, KEY_SET_VALUE, &key);
	if (rc == ERROR_SUCCESS) {
		rc = RegDeleteValueW(key, wname);
		RegCloseKey(key);
	}
	free(wname);
	if (rc == ERROR_FILE_NOT_FOUND) {
		w32_out("not installed: no value \"%s\" under HKCU\\Software\\Microsoft\\Windows"
			"\\CurrentVersion\\Run; nothing removed\n", name);
		return EXIT_NOT_RUNNING;
	}
	if (rc != ERROR_SUCCESS) {
		char why[256];
		w32_err("tether-shim: cannot remove the Run value \"%s\": %s\n", name,
			w32_strerror((DWORD)rc, why, sizeof why));
		return EXIT_ERROR;
	}
	w32_out("uninstalled: removed HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\\%s\n"
		"(a shim already running goes on until `tether-shim stop`; config and log are kept)\n",
		name);
	return EXIT_OK;
}

static bool instance_running(const char *key)
{
	wchar_t *name = w32_object_name("run", key);
	HANDLE m = name ? OpenMutexW(SYNCHRONIZE, FALSE, name) : NULL;
	free(name);
	if (!m)
		return false;
	CloseHandle(m);
	return true;
}

static int cmd_status(int argc, char **argv)
{
	struct opts o;
	struct shim_config cfg;
	char path[SHIM_PATH_MAX], key[SHIM_DISTRO_MAX + 16], file[SHIM_PATH_MAX + 64];
	char detail[SHIM_ERR_MAX], wsl[SHIM_PATH_MAX];
	static char raw[65536], text[3 * 65536], body[8192];
	static struct shim_distro list[64];
	int rc = EXIT_OK;

	if (parse_opts(argc, argv, &o))
		return EXIT_USAGE;
	if (load(&cfg, &o, path, sizeof path))
		return EXIT_ERROR;
	w32_instance_key(cfg.distro, key, sizeof key);
	w32_wsl_exe(&cfg, wsl, sizeof wsl);

	bool running = instance_running(key);
	w32_out("shim for %s: %s\n", key, running ? "running" : "not running");
	if (!running)
		rc = EXIT_NOT_RUNNING;
	snprintf(file, sizeof file, "status-%s.txt", key);
	for (char *p = file; *p; p++)
		if (strchr("\\/:*?\"<>|", *p))
			*p = '_';
	char status_path[SHIM_PATH_MAX + 80];
	if (!w32_shim_path(status_path, sizeof status_path, file)) {
		wchar_t *w = w32_wide(status_path);
		HANDLE f = w ? CreateFileW(w, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE |
					   FILE_SHARE_DELETE, NULL, OPEN_EXISTING, 0, NULL)
			     : INVALID_HANDLE_VALUE;
		free(w);
		if (f != INVALID_HANDLE_VALUE) {
			DWORD n = 0;
			ReadFile(f, body, sizeof body - 1, &n, NULL);
			CloseHandle(f);
			body[n] = 0;
			w32_out("%s%s", running ? "" : "last recorded state:\n", body);
		}
	}

	/* The distro's state, as WSL sees it. */
	const char *argv_l[8];
	int argc_l = shim_wsl_argv(SHIM_WSL_LIST, wsl, "", argv_l), n_list;
	size_t len;
	DWORD code;
	char err[SHIM_ERR_MAX];
	if (w32_run_capture(argv_l, argc_l, 10000, raw, sizeof raw, &len, &code, err)) {
		w32_out("wsl: %s\n", err);
	} else {
		shim_text_decode(raw, len, text, sizeof text);
		if (code || shim_wsl_parse_list(text, list, 64, &n_list, err)) {
			for (char *p = text; *p; p++)
				if (*p == '\n')
					*p = ' ';
			w32_out("wsl: wsl.exe -l -v failed (exit code %ld): %.300s\n", (long)(int)code,
				code ? text : err);
		} else {
			for (int i = 0; i < n_list; i++)
				if (cfg.distro[0] ? !strcmp(list[i].name, cfg.distro) : list[i].is_default)
					w32_out("wsl: distro %s is %s (WSL %d%s)\n", list[i].name,
						list[i].state, list[i].version,
						list[i].is_default ? ", the default" : "");
		}
	}
	if (w32_net_init(err) || w32_probe_once(cfg.port, cfg.health_timeout_ms, detail)) {
		w32_out("daemon: not answering on 127.0.0.1:%ld: %s\n", cfg.port, detail);
		if (rc == EXIT_OK)
			rc = EXIT_ERROR;
	} else {
		w32_out("daemon: healthy on 127.0.0.1:%ld (%s)\n", cfg.port, detail);
	}
	return rc;
}

static int cmd_stop(int argc, char **argv)
{
	struct opts o;
	struct shim_config cfg;
	char path[SHIM_PATH_MAX], key[SHIM_DISTRO_MAX + 16];

	if (parse_opts(argc, argv, &o))
		return EXIT_USAGE;
	if (load(&cfg, &o, path, sizeof path))
		return EXIT_ERROR;
	w32_instance_key(cfg.distro, key, sizeof key);
	wchar_t *ename = w32_object_name("stop", key), *mname = w32_object_name("run", key);
	HANDLE ev = ename ? OpenEventW(EVENT_MODIFY_STATE, FALSE, ename) : NULL;
	HANDLE m = mname ? OpenMutexW(SYNCHRONIZE, FALSE, mname) : NULL;
	free(ename);
	free(mname);
	if (!ev || !m) {
		w32_out("no tether-shim run for %s is running\n", key);
		if (ev)
			CloseHandle(ev);
		if (m)
			CloseHandle(m);
		return EXIT_NOT_RUNNING;
	}
	SetEvent(ev);
	CloseHandle(ev);
	DWORD wait = (DWORD)cfg.stop_timeout_ms + 10000;
	DWORD w = WaitForSingleObject(m, wait);
	if (w == WAIT_OBJECT_0 || w == WAIT_ABANDONED)
		ReleaseMutex(m);
	CloseHandle(m);
	if (w != WAIT_OBJECT_0 && w != WAIT_ABANDONED) {
		w32_err("tether-shim: the shim for %s did not stop within %lu ms\n", key,
			(unsigned long)wait);
		return EXIT_ERROR;
	}
	w32_out("stopped the shim for %s\n", key);
	return EXIT_OK;
}

static int cmd_endpoint(int argc, char **argv)
{
	struct opts o;
	struct shim_config cfg;
	char path[SHIM_PATH_MAX], wsl[SHIM_PATH_MAX], distro[SHIM_DISTRO_MAX], err[SHIM_ERR_MAX];
	static char raw[65536], text[3 * 65536];
	const char *av[8];
	size_t len;
	DWORD code = 0;

	if (parse_opts(argc, argv, &o))
		return EXIT_USAGE;
	if (load(&cfg, &o, path, sizeof path))
		return EXIT_ERROR;
	w32_wsl_exe(&cfg, wsl, sizeof wsl);
	if (cfg.distro[0]) {
		snprintf(distro, sizeof distro, "%s", cfg.distro);
	} else if (w32_default_distro(wsl, distro, sizeof distro, err)) {
		w32_err("tether-shim: %s\n", err);
		return EXIT_ERROR;
	}
	int ac = shim_wsl_argv(SHIM_WSL_ENDPOINT, wsl, distro, av);
	if (w32_run_capture(av, ac, 15000, raw, sizeof raw, &len, &code, err)) {
		w32_err("tether-shim: %s\n", err);
		return EXIT_ERROR;
	}
	if (code == 0) {
		w32_out("%.*s", (int)len, raw);   /* tether's JSON, as it printed it */
		return EXIT_OK;
	}
	shim_text_decode(raw, len, text, sizeof text);
	if (code == SHIM_WSL_FAILED)
		w32_err("tether-shim: wsl.exe failed (exit code -1): %s\n", text);
	else
		w32_err("tether-shim: `tether endpoint --json` in %s exited with code %lu: %s\n",
			distro, (unsigned long)code, text);
	return EXIT_ERROR;
}

static int cmd_run(int argc, char **argv)
{
	struct opts o;
	struct shim_config cfg;
	char path[SHIM_PATH_MAX];

	if (parse_opts(argc, argv, &o))
		return EXIT_USAGE;
	if (load(&cfg, &o, path, sizeof path))
		return EXIT_ERROR;
	return w32_cmd_run(&cfg);
}

static int cmd_help(int argc, char **argv);

static int cmd_version(int argc, char **argv)
{
	w32_out("tether-shim %s\n", TETHER_VERSION);
	return EXIT_OK;
}

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
};

static const struct command commands[] = {
	{ "install", cmd_install, "install [--distro NAME]    start `run` at logon (HKCU Run key)" },
	{ "uninstall", cmd_uninstall, "uninstall [--distro NAME]  remove that logon entry" },
	{ "run", cmd_run, "run [--distro NAME]        keep the anchor running (what logon starts)" },
	{ "status", cmd_status, "status [--distro NAME]     shim, anchor, distro, daemon health, restarts" },
	{ "stop", cmd_stop, "stop [--distro NAME]       stop a running `run` cleanly" },
	{ "endpoint", cmd_endpoint, "endpoint [--distro NAME]   the daemon's endpoint JSON (via wsl.exe)" },
	{ "--version", cmd_version, "--version" },
	{ "--help", cmd_help, "--help" },
};

static int cmd_help(int argc, char **argv)
{
	static char settings[4096];
	struct shim_config def;
	shim_config_defaults(&def);
	shim_config_describe(&def, settings, sizeof settings);
	w32_out("usage: tether-shim COMMAND [--distro NAME]\n\n"
		"Keeps a WSL distro and tetherd running from Windows: runs\n"
		"`wsl.exe -d DISTRO --exec tether anchor` in a kill-on-close job, restarts it\n"
		"with backoff, checks http://127.0.0.1:PORT/healthz. See docs/shim.md.\n\n"
		"commands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0] - 2; i++)
		w32_out("  %s\n", commands[i].usage);
	w32_out("  --version, --help\n\n"
		"settings (%%LOCALAPPDATA%%\\tether\\shim.json, a JSON object; or the directory\n"
		"in %%TETHER_SHIM_DIR%%), with their defaults:\n%s\n"
		"exit codes: 0 ok, 1 error, 2 usage, 3 not running / not installed\n", settings);
	return EXIT_OK;
}

int wmain(int argc, wchar_t **wargv)
{
	char **argv = calloc((size_t)argc + 1, sizeof *argv);
	if (!argv)
		return EXIT_ERROR;
	for (int i = 0; i < argc; i++) {
		argv[i] = w32_utf8(wargv[i]);
		if (!argv[i]) {
			w32_err("tether-shim: argument %d is not valid UTF-16\n", i);
			return EXIT_USAGE;
		}
	}
	if (argc < 2) {
		cmd_help(0, NULL);
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (!strcmp(argv[1], commands[i].name) ||
		    (!strcmp(argv[1], "-h") && commands[i].fn == cmd_help))
			return commands[i].fn(argc - 2, argv + 2);
	w32_err("tether-shim: unknown command '%s' (see --help)\n", argv[1]);
	return EXIT_USAGE;
}
