/* tether: the CLI. One function per command, one table to dispatch them. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define DAEMON_START_TIMEOUT_MS 10000

struct options {
	bool json;
	char runtime_dir[100];
};

/* Parses the options a command accepts: --json (when allow_json) and
 * --runtime-dir. Returns 0 or an exit code. */
static int parse_options(int argc, char **argv, bool allow_json, struct options *o)
{
	relay_runtime_dir_default(o->runtime_dir, sizeof o->runtime_dir);
	o->json = false;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (allow_json && !strcmp(a, "--json")) {
			o->json = true;
		} else if (!strcmp(a, "--runtime-dir") || !strncmp(a, "--runtime-dir=", 14)) {
			const char *v = a[13] == '=' ? a + 14 : (i + 1 < argc ? argv[++i] : NULL);
			if (!v)
				return cli_usage_error(NULL, "option %s needs a value", "--runtime-dir");
			if (!*v || strlen(v) >= sizeof o->runtime_dir)
				return cli_usage_error(NULL, "--runtime-dir '%s' is empty or too long", v);
			strcpy(o->runtime_dir, v);
		} else {
			return cli_usage_error(NULL, "unknown option '%s'", a);
		}
	}
	return 0;
}

/* Loads endpoint.json and the token of the running daemon. */
static int load_endpoint(const struct options *o, cJSON **out)
{
	char path[256];
	relay_runtime_path(path, sizeof path, o->runtime_dir, RELAY_ENDPOINT_NAME);
	char *text = relay_read_text(path, 65536);
	if (!text) {
		fprintf(stderr, "tether: tetherd is not running for this user (no %s); start it "
			"with `tetherd` or `tether connect`\n", path);
		return 1;
	}
	cJSON *ep = cJSON_Parse(text);
	free(text);
	const cJSON *pid = cJSON_GetObjectItemCaseSensitive(ep, "pid");
	if (!cJSON_IsObject(ep) || !cJSON_IsNumber(pid)) {
		fprintf(stderr, "tether: %s is malformed\n", path);
		cJSON_Delete(ep);
		return 1;
	}
	if (kill((pid_t)pid->valuedouble, 0) && errno == ESRCH) {
		fprintf(stderr, "tether: tetherd (pid %.0f) is not running; %s is stale\n",
			pid->valuedouble, path);
		cJSON_Delete(ep);
		return 1;
	}
	relay_runtime_path(path, sizeof path, o->runtime_dir, RELAY_TOKEN_NAME);
	char *token = relay_read_text(path, 65536);
	if (!token || strlen(token) != RELAY_TOKEN_HEX) {
		fprintf(stderr, "tether: cannot read the token in %s: %s\n", path,
			token ? "malformed" : strerror(errno));
		free(token);
		cJSON_Delete(ep);
		return 1;
	}
	cJSON_AddStringToObject(ep, "token", token);
	explicit_bzero(token, strlen(token));
	free(token);
	*out = ep;
	return 0;
}

static int cmd_endpoint(int argc, char **argv)
{
	struct options o;
	cJSON *ep;
	int rc = parse_options(argc, argv, true, &o);
	if (rc || (rc = load_endpoint(&o, &ep)))
		return rc;
	if (o.json) {
		char *text = cJSON_PrintUnformatted(ep);
		printf("%s\n", text);
		cJSON_free(text);
	} else {
		printf("url:     %s\n", cJSON_GetStringValue(cJSON_GetObjectItem(ep, "url")));
		printf("port:    %.0f\n", cJSON_GetObjectItem(ep, "port")->valuedouble);
		printf("token:   %s\n", cJSON_GetStringValue(cJSON_GetObjectItem(ep, "token")));
		printf("pid:     %.0f\n", cJSON_GetObjectItem(ep, "pid")->valuedouble);
		printf("version: %s\n", cJSON_GetStringValue(cJSON_GetObjectItem(ep, "version")));
		printf("socket:  %s\n", cJSON_GetStringValue(cJSON_GetObjectItem(ep, "socket")));
		printf("Send the token as `Authorization: Bearer <token>`; it changes at every start.\n");
	}
	cJSON_Delete(ep);
	return 0;
}

/* The anchor's anchor.json when its anchor is alive, else NULL. */
static cJSON *load_anchor(const char *dir)
{
	char path[256];
	relay_runtime_path(path, sizeof path, dir, RELAY_ANCHOR_NAME);
	char *text = relay_read_text(path, 65536);
	cJSON *an = text ? cJSON_Parse(text) : NULL;
	free(text);
	const cJSON *pid = cJSON_GetObjectItemCaseSensitive(an, "pid");
	if (!cJSON_IsNumber(pid) || (kill((pid_t)pid->valuedouble, 0) && errno == ESRCH)) {
		cJSON_Delete(an);
		return NULL;
	}
	return an;
}

static const char *json_str(const cJSON *o, const char *key, const char *fallback)
{
	const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
	return v ? v : fallback;
}

static double json_num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

/* anchor.json is read as found: a member missing or of the wrong type shows as "?". */
static void print_anchor(const cJSON *an)
{
	const char *last = json_str(an, "last_exit", NULL);
	double restarts = json_num(an, "restarts");
	printf("  anchor:      pid %.0f, %s mode, %s since %s; %.0f restart%s%s%s\n",
	       json_num(an, "pid"), json_str(an, "mode", "?"), json_str(an, "state", "?"),
	       json_str(an, "since", "?"), restarts, restarts == 1 ? "" : "s",
	       last ? "; last exit: " : "", last ? last : "");
	if (!strcmp(json_str(an, "state", ""), "gave-up"))
		printf("  the anchor gave up after a crash loop: fix the cause (its log: %s), then "
		       "`kill -HUP %.0f`\n", json_str(an, "log", "?"), json_num(an, "pid"));
}

static int cmd_status(int argc, char **argv)
{
	struct options o;
	char why[256];
	int rc = parse_options(argc, argv, true, &o);
	if (rc)
		return rc;
	cJSON *anchor = load_anchor(o.runtime_dir);
	int fd = relay_client_connect(o.runtime_dir);
	if (fd < 0) {
		if (o.json) {
			cJSON *out = cJSON_CreateObject();
			cJSON_AddFalseToObject(out, "running");
			cJSON_AddItemToObject(out, "anchor", anchor ? anchor : cJSON_CreateNull());
			char *text = cJSON_PrintUnformatted(out);
			printf("%s\n", text);
			cJSON_free(text);
			cJSON_Delete(out);
		} else if (anchor) {
			print_anchor(anchor);
			cJSON_Delete(anchor);
		}
		fprintf(stderr, "tether: tetherd is not running for this user (%s/%s: %s)\n",
			o.runtime_dir, RELAY_SOCKET_NAME, strerror(-fd));
		return 1;
	}
	cJSON *hello = relay_client_hello(fd, "tether status", 10000, why, sizeof why);
	cJSON *st = hello ? relay_client_request(fd, "{\"type\":\"status\",\"id\":2}", -1, why,
						 sizeof why) : NULL;
	close(fd);
	if (!st || strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(st, "type")), "status")) {
		const char *m = st ? cJSON_GetStringValue(cJSON_GetObjectItem(st, "message")) : why;
		fprintf(stderr, "tether: status failed: %s\n", m ? m : "unexpected reply");
		cJSON_Delete(anchor);
		cJSON_Delete(hello);
		cJSON_Delete(st);
		return 1;
	}
	cJSON_DeleteItemFromObject(st, "type");
	cJSON_DeleteItemFromObject(st, "id");
	if (o.json) {
		cJSON_AddTrueToObject(st, "running");
		cJSON_AddItemToObject(st, "anchor", anchor ? anchor : cJSON_CreateNull());
		anchor = NULL;
		char *text = cJSON_PrintUnformatted(st);
		printf("%s\n", text);
		cJSON_free(text);
	} else {
		const cJSON *listen = cJSON_GetObjectItem(st, "listen");
		const cJSON *conns = cJSON_GetObjectItem(st, "connections");
		printf("tetherd %s running, pid %.0f, up %.1f s (since %s)\n",
		       cJSON_GetStringValue(cJSON_GetObjectItem(st, "version")),
		       cJSON_GetObjectItem(st, "pid")->valuedouble,
		       cJSON_GetObjectItem(st, "uptime_ms")->valuedouble / 1000.0,
		       cJSON_GetStringValue(cJSON_GetObjectItem(st, "started_at")));
		printf("  websocket:   ws://127.0.0.1:%.0f/ws\n",
		       cJSON_GetObjectItem(listen, "port")->valuedouble);
		printf("  unix socket: %s\n", cJSON_GetStringValue(cJSON_GetObjectItem(listen, "socket")));
		printf("  connections: %.0f (websocket %.0f, unix %.0f, max %.0f per transport)\n",
		       cJSON_GetObjectItem(conns, "total")->valuedouble,
		       cJSON_GetObjectItem(conns, "websocket")->valuedouble,
		       cJSON_GetObjectItem(conns, "unix")->valuedouble,
		       cJSON_GetObjectItem(conns, "max")->valuedouble);
		if (anchor)
			print_anchor(anchor);
		else
			printf("  anchor:      none (nothing restarts tetherd or keeps the distro up; "
			       "see tether service status)\n");
		const char *platform = cJSON_GetStringValue(
			cJSON_GetObjectItem(cJSON_GetObjectItem(st, "platform"), "summary"));
		if (platform)
			printf("  platform:    %s (at start; tether doctor for details)\n", platform);
		cli_infer_print_status(cJSON_GetObjectItem(st, "inference"));
	}
	cJSON_Delete(anchor);
	cJSON_Delete(hello);
	cJSON_Delete(st);
	return 0;
}

/* ---- connect: stdio <-> unix socket, starting tetherd when needed ------- */

static int spawn_daemon(const char *dir)
{
	char err[RELAY_ERR_MAX], exe[PATH_MAX], log[256];
	relay_sibling_exe("tetherd", exe, sizeof exe);
	relay_runtime_path(log, sizeof log, dir, RELAY_LOG_NAME);
	if (relay_runtime_dir_prepare(dir, err)) {
		fprintf(stderr, "tether: %s\n", err);
		return -EPERM;
	}
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		/* Double fork: the daemon is nobody's child and has no terminal. */
		setsid();
		if (fork() != 0)
			_exit(0);
		int null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(null, 1);
		dup2(null, 2);
		execlp(exe, exe, "--runtime-dir", dir, "--log-file", log, (char *)NULL);
		_exit(127);
	}
	int status;
	waitpid(pid, &status, 0);
	return 0;
}

static int connect_or_start(const char *dir)
{
	int fd = relay_client_connect(dir);
	if (fd >= 0 || (fd != -ENOENT && fd != -ECONNREFUSED))
		return fd;
	int rc = spawn_daemon(dir);
	if (rc)
		return rc;
	for (int waited = 0; waited < DAEMON_START_TIMEOUT_MS; waited += 20) {
		fd = relay_client_connect(dir);
		if (fd >= 0)
			return fd;
		usleep(20000);
	}
	fprintf(stderr, "tether: started tetherd but it did not come up within %d s; see %s/%s\n",
		DAEMON_START_TIMEOUT_MS / 1000, dir, RELAY_LOG_NAME);
	return -ETIMEDOUT;
}

static int cmd_connect(int argc, char **argv)
{
	struct options o;
	int rc = parse_options(argc, argv, false, &o);
	if (rc)
		return rc;
	int fd = connect_or_start(o.runtime_dir);
	if (fd < 0) {
		fprintf(stderr, "tether: cannot reach tetherd at %s/%s: %s\n", o.runtime_dir,
			RELAY_SOCKET_NAME, strerror(-fd));
		return 1;
	}
	/* A byte pump: the daemon speaks the same framing as our stdio. */
	struct pollfd p[2] = { { .fd = STDIN_FILENO, .events = POLLIN },
			       { .fd = fd, .events = POLLIN } };
	static uint8_t buf[65536];
	bool stdin_open = true;
	for (;;) {
		p[0].fd = stdin_open ? STDIN_FILENO : -1;
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents) {
			ssize_t n = read(fd, buf, sizeof buf);
			if (n <= 0 || relay_client_write_all(STDOUT_FILENO, buf, (size_t)n))
				break;   /* daemon closed, or nobody reads our stdout */
		}
		if (stdin_open && p[0].revents) {
			ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
			if (n <= 0) {
				stdin_open = false;
				shutdown(fd, SHUT_WR);
			} else if (relay_client_write_all(fd, buf, (size_t)n)) {
				break;
			}
		}
	}
	close(fd);
	return 0;
}

static int cmd_help(int argc, char **argv);

static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *synopsis;
} commands[] = {
	{ "endpoint", cmd_endpoint, "endpoint [--json]   URL, port, token and pid of the running tetherd" },
	{ "status", cmd_status, "status [--json]     what the running tetherd is doing (connections, loaded\n"
	  "                      models, inference streams)" },
	{ "connect", cmd_connect, "connect             speak the protocol on stdin/stdout (starts tetherd)" },
	{ "hook", relay_cli_hook, "hook [options]      carry an agent hook to the IDE (docs/hooks.md)\n"
	  "  tether hook install|uninstall --agent claude-code [--scope user|project]" },
	{ "anchor", relay_cli_anchor, "anchor [options]    keep tetherd serving, with or without systemd; what\n"
	  "                      Windows keeps running in the distro (docs/lifecycle.md)\n"
	  "  options: --mode auto|supervise|systemd, --tetherd PATH, --log-file PATH,\n"
	  "  --restart-limit N, --health-interval-ms N, -- TETHERD_ARGS..." },
	{ "service", relay_cli_service, "service install|uninstall|status [--dry-run] [--init systemd|none]\n"
	  "                      start tetherd with the distro (a systemd user unit, or\n"
	  "                      the command Windows runs when there is no systemd)" },
	{ "doctor", relay_cli_doctor, "doctor [--json]     platform and daemon checks, a fix for each (docs/doctor.md);\n"
	  "                      exit 0 ok, 1 warn, 3 fail; --root DIR judges a tree laid out like a system" },
	{ "model", relay_cli_model, "model info --model PATH [--json] [--ctx N] [--kv-type f16|f32]\n"
	  "                      architecture, sizes, types, vocabulary, template, memory" },
	{ "tokenize", relay_cli_tokenize, "tokenize --model PATH [--text T | stdin] [--json] [--no-special]\n"
	  "                      [--parse-special]   token ids (and pieces)" },
	{ "generate", relay_cli_generate, "generate --model PATH --prompt T [--chat [--system S]] [--max-tokens N]\n"
	  "                      [--temperature X] [--top-k N] [--top-p X] [--min-p X] [--repeat-penalty X]\n"
	  "                      [--repeat-last-n N] [--frequency-penalty X] [--presence-penalty X]\n"
	  "                      [--seed S] [--stop S]... [--threads N] [--ctx N] [--isa I]\n"
	  "                      [--kv-type f16|f32] [--json]\n"
	  "  tether generate --daemon --model ID ...  the same from the running tetherd (its\n"
	  "                      model ID, or a path: its file name without .gguf); --threads,\n"
	  "                      --ctx, --kv-type apply if it loads the model; not --isa; without\n"
	  "                      --seed tetherd picks one (--json reports it); Ctrl-C cancels" },
	{ "models", relay_cli_models, "models [--json]     the models the running tetherd knows: id, state, size,\n"
	  "                      architecture, quantization, context, chat template, why not loadable" },
	{ "logits", relay_cli_logits, "logits --model PATH (--prompt T | --ids 1,2,3) [--top K] [--json]\n"
	  "                      [--threads N] [--ctx N] [--isa auto|portable|avx2|avx512]\n"
	  "                      [--kv-type f16|f32]" },
	{ "help", cmd_help, "help                this text" },
};

static int cmd_help(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("usage: tether COMMAND [options]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		printf("  tether %s\n", commands[i].synopsis);
	printf("\noptions of every command:\n"
	       "  --runtime-dir DIR   tetherd's runtime dir (default $TETHER_RUNTIME_DIR or\n"
	       "                      /tmp/tether-UID)\n"
	       "  --version, --help\n"
	       "\nexit codes: 0 ok, 1 failed (e.g. tetherd not running), 2 usage error;\n"
	       "tether hook follows the agent's contract instead (docs/hooks.md)\n");
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2)
		return cmd_help(0, NULL), EXIT_USAGE;
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return cmd_help(0, NULL);
	if (!strcmp(argv[1], "--version")) {
		printf("tether %s (protocol %d)\n", TETHER_VERSION, RELAY_PROTOCOL_VERSION);
		return 0;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		if (strcmp(argv[1], commands[i].name))
			continue;
		for (int k = 2; k < argc && strcmp(argv[k], "--"); k++)
			if (!strcmp(argv[k], "--help") || !strcmp(argv[k], "-h"))
				return cmd_help(0, NULL);
		return commands[i].fn(argc - 2, argv + 2);
	}
	if (argv[1][0] == '-')
		return cli_usage_error(NULL, "unknown option '%s'", argv[1]);
	return cli_usage_error(NULL, "unknown command '%s'", argv[1]);
}
