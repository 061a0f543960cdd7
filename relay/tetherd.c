/* tetherd: main owns the loop; everything else is handed what it needs. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "relay.h"
#include "hooks/hooks.h"
#include "infer/infer.h"
#include "pty/pty.h"
#include "wsl.h"

#define EXIT_USAGE 2

struct daemon {
	uv_loop_t loop;
	uv_signal_t sigterm, sigint;
	uv_timer_t watchdog;          /* WATCHDOG=1 from the loop itself */
	uv_timer_t status_timer;      /* STATUS= on the loop turn after a change */
	uv_signal_t stall;            /* test-only: SIGUSR2 blocks the loop */
	long stall_ms;
	struct relay_server *srv;
	struct relay_module *modules[RELAY_MAX_MODULES];   /* handed to the server */
	size_t n_modules;
	char status[160];             /* the last STATUS= sent */
	char models_dir[RELAY_PATH_MAX];
	int exit_code;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: tetherd [options]\n"
		"\n"
		"The tether daemon: serves terminals, agent hooks and inference to IDE plugins\n"
		"over a WebSocket on 127.0.0.1 and a unix socket (docs/protocol.md).\n"
		"\n"
		"options:\n"
		"  --config PATH          JSON config file (default: ~/.config/tether/tetherd.json\n"
		"                         if it exists); flags override it\n");
	relay_config_print_help(out);
	fprintf(out,
		"  --version              print the version and exit\n"
		"  --help                 print this help and exit\n"
		"\n"
		"Clients find the port and token with `tether endpoint --json`.\n");
}

static void on_stopped(void *arg)
{
	struct daemon *d = arg;
	uv_close((uv_handle_t *)&d->sigterm, NULL);
	uv_close((uv_handle_t *)&d->sigint, NULL);
	uv_close((uv_handle_t *)&d->watchdog, NULL);
	uv_close((uv_handle_t *)&d->status_timer, NULL);
	uv_close((uv_handle_t *)&d->stall, NULL);
}

/* STATUS= follows clients and terminals; sent only when the line changes. */
static void send_status(uv_timer_t *t)
{
	struct daemon *d = t->data;
	char line[sizeof d->status];
	if (!d->srv)
		return;
	relay_server_summary(d->srv, line, sizeof line);
	if (strcmp(line, d->status)) {
		strcpy(d->status, line);
		relay_sd_notify("STATUS=%s", line);
	}
}

/* The server calls this while a transport is still updating its own count
 * (a connection is added before the transport counts it), so the summary is
 * read on the next turn of the loop, which also folds a burst into one line. */
static void on_change(void *arg)
{
	struct daemon *d = arg;
	if (d->srv && !uv_is_active((uv_handle_t *)&d->status_timer))
		uv_timer_start(&d->status_timer, send_status, 0, 0);
}

/* The feature modules, each handed its loop, its limits and its callbacks.
 * A new feature is one more entry here (and its rows in messages.c). */
static int make_modules(struct daemon *d, const struct relay_config *cfg, char err[RELAY_ERR_MAX])
{
	const struct relay_pty_limits pty = {
		.max_sessions = cfg->max_sessions,
		.max_sessions_per_connection = cfg->max_sessions_per_connection,
		.ring_bytes = cfg->ring_bytes,
		.detach_timeout_s = cfg->detach_timeout_s,
		.max_detached = cfg->max_detached,
		.default_credit = cfg->default_credit,
		.close_grace_ms = cfg->close_grace_ms,
	};
	const char *model_paths[RELAY_MAX_MODEL_PATHS];
	for (int i = 0; i < cfg->n_models; i++)
		model_paths[i] = cfg->models[i];
	struct relay_infer_limits infer = {
		.models_dir = d->models_dir,
		.model_paths = model_paths,
		.n_model_paths = (size_t)cfg->n_models,
		.parallel = cfg->infer_parallel,
		.queue = cfg->infer_queue,
		.max_loaded = cfg->infer_max_loaded,
		.keep_alive_s = cfg->keep_alive_s,
		.ctx = cfg->infer_ctx,
		.threads = cfg->infer_threads,
		.max_memory_mb = cfg->infer_max_memory_mb,
	};
	if (relay_models_dir(cfg, d->models_dir, sizeof d->models_dir)) {
		snprintf(err, RELAY_ERR_MAX, "no models directory: set models_dir (or HOME)");
		return -EINVAL;
	}
	int rc = relay_pty_new(&d->loop, &pty, on_change, d, &d->modules[d->n_modules++]);
	if (!rc)
		rc = relay_hooks_new(&d->loop, &d->modules[d->n_modules++]);
	if (!rc)
		rc = relay_infer_new(&d->loop, &infer, on_change, d, &d->modules[d->n_modules++]);
	if (rc) {
		d->n_modules--;
		snprintf(err, RELAY_ERR_MAX, "out of memory");
	}
	return rc;
}

/* Pinged from a loop timer, so a loop stuck anywhere stops the pings and
 * systemd's watchdog restarts us. */
static void on_watchdog(uv_timer_t *t)
{
	relay_sd_notify("WATCHDOG=1");
}

static void on_stall(uv_signal_t *h, int signum)
{
	struct daemon *d = h->data;
	relay_log(RELAY_LOG_WARN, "test switch: blocking the loop for %ld ms", d->stall_ms);
	usleep((useconds_t)d->stall_ms * 1000);
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct daemon *d = h->data;
	char reason[64];
	snprintf(reason, sizeof reason, "tetherd is stopping (%s)",
		 signum == SIGTERM ? "SIGTERM" : "SIGINT");
	if (d->srv) {
		struct relay_server *srv = d->srv;
		d->srv = NULL;
		relay_sd_notify("STOPPING=1\nSTATUS=%s", reason);
		relay_server_stop(srv, reason, on_stopped, d);
	}
}

/* Reads --config (both spellings) without judging the other flags yet. */
static const char *find_config_flag(int argc, char **argv, bool *missing_value)
{
	*missing_value = false;
	for (int i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--config=", 9))
			return argv[i] + 9;
		if (!strcmp(argv[i], "--config")) {
			if (i + 1 >= argc)
				*missing_value = true;
			return i + 1 < argc ? argv[i + 1] : NULL;
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct relay_config cfg;
	char err[RELAY_ERR_MAX] = "";
	struct daemon d = { .exit_code = 0 };
	bool missing;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		}
		if (!strcmp(argv[i], "--version")) {
			printf("tetherd %s (protocol %d)\n", TETHER_VERSION, RELAY_PROTOCOL_VERSION);
			return 0;
		}
	}
	const char *config = find_config_flag(argc, argv, &missing);
	if (missing) {
		fprintf(stderr, "tetherd: option --config needs a value\n");
		return EXIT_USAGE;
	}
	if (relay_config_load(&cfg, config, err) ||
	    relay_config_parse_args(&cfg, argc, argv, err)) {
		fprintf(stderr, "tetherd: %s\n", err);
		return EXIT_USAGE;
	}

	/* A Windows-side wsl.exe that goes away takes our stdout's reader with it. */
	signal(SIGPIPE, SIG_IGN);
	umask(0077);
	if (relay_log_open(cfg.log_file, cfg.log_level, cfg.log_max_bytes)) {
		fprintf(stderr, "tetherd: cannot open log file %s: %s\n", cfg.log_file,
			strerror(errno));
		return 1;
	}
	if (relay_runtime_dir_prepare(cfg.runtime_dir, err)) {
		relay_log(RELAY_LOG_ERROR, "%s", err);
		if (*cfg.log_file)
			fprintf(stderr, "tetherd: %s\n", err);
		return 1;
	}
	long holder = 0;
	int lock_fd = relay_lock_acquire(cfg.runtime_dir, RELAY_LOCK_NAME, &holder);
	if (lock_fd < 0) {
		if (lock_fd == -EBUSY)
			snprintf(err, sizeof err, "another tetherd (pid %ld) is running for this user "
				 "in %s", holder, cfg.runtime_dir);
		else
			snprintf(err, sizeof err, "cannot lock %s/%s: %s", cfg.runtime_dir,
				 RELAY_LOCK_NAME, strerror(-lock_fd));
		relay_log(RELAY_LOG_ERROR, "%s", err);
		if (*cfg.log_file)
			fprintf(stderr, "tetherd: %s\n", err);
		return 1;
	}

	struct relay_listen_fds fds;
	int activated = relay_sd_listen_fds(&fds, err);
	if (activated < 0) {
		relay_log(RELAY_LOG_ERROR, "%s", err);
		if (*cfg.log_file)
			fprintf(stderr, "tetherd: %s\n", err);
		return 1;
	}

	uv_loop_init(&d.loop);
	/* Before the endpoint is written: a client that sees it may stop us at once. */
	uv_signal_init(&d.loop, &d.sigterm);
	uv_signal_init(&d.loop, &d.sigint);
	d.sigterm.data = d.sigint.data = &d;
	uv_signal_start(&d.sigterm, on_signal, SIGTERM);
	uv_signal_start(&d.sigint, on_signal, SIGINT);
	if (make_modules(&d, &cfg, err) ||
	    relay_server_start(&d.loop, &cfg, &fds, d.modules, d.n_modules, &d.srv, err)) {
		relay_log(RELAY_LOG_ERROR, "%s", err);
		if (*cfg.log_file)
			fprintf(stderr, "tetherd: %s\n", err);
		return 1;
	}
	uv_timer_init(&d.loop, &d.watchdog);
	uv_timer_init(&d.loop, &d.status_timer);
	d.status_timer.data = &d;
	uint64_t watchdog_usec = relay_sd_watchdog_usec();
	if (watchdog_usec) {
		uint64_t every_ms = watchdog_usec / 2000 ? watchdog_usec / 2000 : 1;
		uv_timer_start(&d.watchdog, on_watchdog, every_ms, every_ms);
		relay_log(RELAY_LOG_INFO, "systemd watchdog: %llu ms, pinged every %llu ms",
			  (unsigned long long)(watchdog_usec / 1000), (unsigned long long)every_ms);
	}
	uv_signal_init(&d.loop, &d.stall);
	d.stall.data = &d;
	const char *stall = getenv("TETHERD_TEST_STALL_MS");
	if (stall && (d.stall_ms = strtol(stall, NULL, 10)) > 0)
		uv_signal_start(&d.stall, on_stall, SIGUSR2);
	if (activated)
		relay_log(RELAY_LOG_INFO, "socket activation: %s%s%s", fds.tcp_fd >= 0 ? "tcp" : "",
			  fds.tcp_fd >= 0 && fds.unix_fd >= 0 ? " + " : "",
			  fds.unix_fd >= 0 ? "unix" : "");

	int port = relay_server_port(d.srv);
	relay_log(RELAY_LOG_INFO, "tetherd %s pid %d listening on ws://127.0.0.1:%d/ws and %s/%s",
		  TETHER_VERSION, (int)getpid(), port, cfg.runtime_dir, RELAY_SOCKET_NAME);
	{   /* the platform, detected once (no dlopen, no Windows files): logs and `status` */
		struct wsl_detect_opts wo = { .root = "/" };
		struct wsl_platform *wp = calloc(1, sizeof *wp);
		char line[1024];
		wsl_env_from_process(&wo.env);
		if (wp && wsl_detect(&wo, wp) == 0) {
			wsl_summary(wp, line, sizeof line);
			relay_log(RELAY_LOG_INFO, "platform: %s (details: tether doctor)", line);
			relay_server_set_platform(d.srv, wsl_platform_json(wp));
		}
		free(wp);
	}
	{   /* for the person who started it; stdout may be /dev/null or lost */
		char dflt[sizeof cfg.runtime_dir], where[sizeof cfg.runtime_dir + 16] = "";
		relay_runtime_dir_default(dflt, sizeof dflt);
		if (strcmp(dflt, cfg.runtime_dir))
			snprintf(where, sizeof where, " --runtime-dir %s", cfg.runtime_dir);
		printf("tetherd %s is running on ws://127.0.0.1:%d/ws (Ctrl-C stops it)\n"
		       "  endpoint and token:  tether endpoint --json%s\n"
		       "  status:              tether status%s\n"
		       "  stdio transport:     tether connect%s\n"
		       "  health:              curl http://127.0.0.1:%d/healthz\n",
		       TETHER_VERSION, port, where, where, where, port);
		fflush(stdout);
	}

	/* Listeners bound, token and endpoint written: clients can come now. */
	relay_server_on_change(d.srv, on_change, &d);
	relay_server_summary(d.srv, d.status, sizeof d.status);
	relay_sd_notify("READY=1\nSTATUS=%s", d.status);

	uv_run(&d.loop, UV_RUN_DEFAULT);
	int rc = uv_loop_close(&d.loop);
	if (rc)
		relay_log(RELAY_LOG_WARN, "loop closed with handles open: %s", uv_strerror(rc));
	relay_log(RELAY_LOG_INFO, "stopped");
	relay_log_close();
	close(lock_fd);
	return d.exit_code;
}
