/*
 * `tether-shim run`: one loop that waits on everything at once (the stop
 * event, the anchor's process and output, the health check's socket, window
 * messages) and does what the state machine (supervise.c) says. Nothing in
 * it blocks, except resolving the default distro (`wsl.exe -l -v`, at most
 * 10 s) before a start.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "win32.h"

struct run {
	struct shim_config cfg;
	struct shim_sup sup;
	char key[SHIM_DISTRO_MAX + 16];   /* instance key: the configured distro */
	char distro[SHIM_DISTRO_MAX];     /* the distro of the current run */
	char wsl_exe[SHIM_PATH_MAX];
	char status_path[SHIM_PATH_MAX + 64];
	struct w32_child child;
	bool child_live;
	struct w32_probe probe;
	bool probing;
	struct shim_lines lines;
	char last[2][SHIM_REASON_MAX];    /* the anchor's last two output lines */
	HWND hwnd;
};

/* Signal-handler-like state: the console control handler runs on its own
 * thread and may only set the event and wait for the loop to finish. */
static HANDLE stop_event;   /* manual reset: a stop was requested */
static HANDLE done_event;   /* manual reset: the loop has stopped the anchor */

static void flush_note(struct run *r);
static void write_status(struct run *r);

static BOOL WINAPI on_console_ctrl(DWORD type)
{
	SetEvent(stop_event);
	/* After these three Windows ends the process when the handler returns:
	 * give the loop the time to stop the anchor first. */
	if (type == CTRL_CLOSE_EVENT || type == CTRL_LOGOFF_EVENT || type == CTRL_SHUTDOWN_EVENT)
		WaitForSingleObject(done_event, 4500);
	return TRUE;
}

static void on_line(void *ctx, const char *line)
{
	struct run *r = ctx;
	w32_log("anchor: %s", line);
	memmove(r->last[0], r->last[1], sizeof r->last[0]);
	snprintf(r->last[1], sizeof r->last[1], "%s", line);
}

static void on_output(void *ctx, const void *data, size_t len)
{
	struct run *r = ctx;
	shim_lines_feed(&r->lines, data, len, on_line, r);
}

static void do_start(struct run *r, uint64_t now)
{
	char err[SHIM_ERR_MAX], cmd[4096];
	const char *argv[8];

	if (r->cfg.distro[0]) {
		snprintf(r->distro, sizeof r->distro, "%s", r->cfg.distro);
	} else if (w32_default_distro(r->wsl_exe, r->distro, sizeof r->distro, err)) {
		char why[SHIM_REASON_MAX];
		snprintf(why, sizeof why, "no default distro: %.200s", err);
		shim_sup_start_failed(&r->sup, w32_now_ms(), why);
		return;
	}
	int argc = shim_wsl_argv(SHIM_WSL_ANCHOR, r->wsl_exe, r->distro, argv);
	shim_cmdline_build(cmd, sizeof cmd, argv, argc);
	w32_log("starting the anchor: %s", cmd);
	memset(&r->lines, 0, sizeof r->lines);
	memset(r->last, 0, sizeof r->last);
	if (w32_child_start(&r->child, argv, argc, err)) {
		shim_sup_start_failed(&r->sup, w32_now_ms(), err);
		return;
	}
	r->child_live = true;
	shim_sup_started(&r->sup, w32_now_ms());
	w32_log("anchor wsl.exe pid %lu, in a kill-on-close job", (unsigned long)r->child.pid);
	(void)now;
}

static void do_health(struct run *r)
{
	char detail[SHIM_ERR_MAX];
	int rc = w32_probe_start(&r->probe, r->cfg.port, r->cfg.health_timeout_ms, detail);
	if (rc == 1) {
		r->probing = true;
		return;
	}
	shim_sup_health(&r->sup, w32_now_ms(), rc == 0, detail);
}

static void on_exit_seen(struct run *r)
{
	char reason[SHIM_REASON_MAX], message[2 * SHIM_REASON_MAX + 2];
	DWORD code = 0;

	/* What wsl.exe wrote before it exited is still in the pipe. */
	for (int i = 0; i < 20; i++) {
		size_t before = r->lines.len;
		char mark[SHIM_REASON_MAX];
		memcpy(mark, r->last[1], sizeof mark);
		if (!w32_child_read(&r->child, 50, on_output, r))
			break;
		if (r->lines.len == before && !memcmp(mark, r->last[1], sizeof mark))
			break;
	}
	shim_lines_flush(&r->lines, on_line, r);
	GetExitCodeProcess(r->child.process, &code);
	snprintf(message, sizeof message, "%s%s%s", r->last[0], r->last[0][0] ? " " : "", r->last[1]);
	shim_exit_reason(reason, sizeof reason, code, message);
	if (r->probing) {
		w32_probe_cancel(&r->probe);
		r->probing = false;
	}
	w32_child_free(&r->child);   /* closing the job kills what it left */
	r->child_live = false;
	shim_sup_exited(&r->sup, w32_now_ms(), reason);
}

static void flush_note(struct run *r)
{
	if (!r->sup.note[0])
		return;
	w32_log("%s", r->sup.note);
	r->sup.note[0] = 0;
	write_status(r);
}

/* Wall-clock text for a monotonic time in the past. */
static void wall_time(uint64_t mono_ms, char *out, size_t cap)
{
	FILETIME ft;
	SYSTEMTIME st;
	ULARGE_INTEGER u;
	uint64_t now = w32_now_ms();

	GetSystemTimeAsFileTime(&ft);
	u.LowPart = ft.dwLowDateTime;
	u.HighPart = ft.dwHighDateTime;
	u.QuadPart -= (now - mono_ms) * 10000ULL;
	ft.dwLowDateTime = u.LowPart;
	ft.dwHighDateTime = u.HighPart;
	FileTimeToLocalFileTime(&ft, &ft);
	FileTimeToSystemTime(&ft, &st);
	snprintf(out, cap, "%04u-%02u-%02u %02u:%02u:%02u", st.wYear, st.wMonth, st.wDay, st.wHour,
		 st.wMinute, st.wSecond);
}

/* status-<key>.txt, read by `tether-shim status`; replaced atomically. */
static void write_status(struct run *r)
{
	static char text[8192];
	const struct shim_sup *s = &r->sup;
	size_t n = 0;
	char when[32];

#define ADD(...) do { int k_ = snprintf(text + n, sizeof text - n, __VA_ARGS__); \
		if (k_ > 0 && (size_t)k_ < sizeof text - n) n += (size_t)k_; } while (0)
	ADD("shim pid: %lu\r\n", (unsigned long)GetCurrentProcessId());
	ADD("distro: %s\r\n", r->distro[0] ? r->distro : "(not resolved yet)");
	ADD("state: %s\r\n", shim_state_name(s->state));
	if (r->child_live) {
		wall_time(s->started_ms, when, sizeof when);
		ADD("anchor: wsl.exe pid %lu, started %s\r\n", (unsigned long)r->child.pid, when);
		ADD("daemon (as of the last check): %s\r\n", s->healthy ? (s->health_failed ?
		    "failing checks" : "healthy") : "not healthy yet");
	}
	ADD("starts: %lu, restarts: %lu\r\n", s->starts, s->restarts);
	if (s->restarts)
		ADD("recent restarts (newest first):\r\n");
	for (unsigned long i = 0; i < s->restarts && i < SHIM_HISTORY; i++) {
		const struct shim_restart *h = &s->history[(s->restarts - 1 - i) % SHIM_HISTORY];
		wall_time(h->at_ms, when, sizeof when);
		ADD("  %s  %s (next start after %ld ms)\r\n", when, h->reason, h->delay_ms);
	}
#undef ADD
	char tmp[SHIM_PATH_MAX + 80];
	snprintf(tmp, sizeof tmp, "%s.tmp", r->status_path);
	wchar_t *wtmp = w32_wide(tmp), *wpath = w32_wide(r->status_path);
	HANDLE f = wtmp ? CreateFileW(wtmp, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS,
				      FILE_ATTRIBUTE_NORMAL, NULL) : INVALID_HANDLE_VALUE;
	if (f != INVALID_HANDLE_VALUE) {
		DWORD done;
		BOOL ok = WriteFile(f, text, (DWORD)n, &done, NULL);
		CloseHandle(f);
		if (ok && wpath)
			MoveFileExW(wtmp, wpath, MOVEFILE_REPLACE_EXISTING);
	}
	free(wtmp);
	free(wpath);
}

/* Stops now, from inside WM_ENDSESSION: Windows ends the process soon after
 * this message returns, so the loop would not get another turn. */
static void stop_now(struct run *r, const char *why)
{
	shim_sup_stop(&r->sup, w32_now_ms(), why);
	flush_note(r);
	if (!r->child_live)
		return;
	w32_child_close_stdin(&r->child);
	DWORD wait = r->cfg.stop_timeout_ms < 4000 ? (DWORD)r->cfg.stop_timeout_ms : 4000;
	if (WaitForSingleObject(r->child.process, wait) != WAIT_OBJECT_0) {
		w32_log("the anchor did not exit within %lu ms of its stdin closing: killing its job",
			(unsigned long)wait);
		w32_child_kill(&r->child);
		WaitForSingleObject(r->child.process, 1000);
	}
	on_exit_seen(r);
	flush_note(r);
}

static LRESULT CALLBACK wnd_proc(HWND hwnd, UINT msg, WPARAM wp, LPARAM lp)
{
	struct run *r = (struct run *)GetWindowLongPtrW(hwnd, GWLP_USERDATA);
	if (msg == WM_QUERYENDSESSION)
		return TRUE;   /* nothing to save: agree, and stop on WM_ENDSESSION */
	if (msg == WM_ENDSESSION) {
		if (wp && r)
			stop_now(r, (lp & ENDSESSION_LOGOFF) ? "logoff" : "shutdown");
		return 0;
	}
	return DefWindowProcW(hwnd, msg, wp, lp);
}

static bool gui_subsystem(void)
{
	const IMAGE_DOS_HEADER *dos = (const IMAGE_DOS_HEADER *)GetModuleHandleW(NULL);
	const IMAGE_NT_HEADERS *nt = (const IMAGE_NT_HEADERS *)((const char *)dos + dos->e_lfanew);
	return nt->OptionalHeader.Subsystem == IMAGE_SUBSYSTEM_WINDOWS_GUI;
}

/* A GUI-subsystem process gets no console control events: WM_QUERYENDSESSION
 * and WM_ENDSESSION reach it through a top-level window, never shown (a
 * message-only window does not get these broadcasts). */
static void create_window(struct run *r)
{
	WNDCLASSW wc;
	memset(&wc, 0, sizeof wc);
	wc.lpfnWndProc = wnd_proc;
	wc.hInstance = GetModuleHandleW(NULL);
	wc.lpszClassName = L"tether-shim";
	RegisterClassW(&wc);
	r->hwnd = CreateWindowExW(0, L"tether-shim", L"tether-shim", WS_OVERLAPPED, 0, 0, 0, 0,
				  NULL, NULL, wc.hInstance, NULL);
	if (!r->hwnd) {
		char why[256];
		w32_log("no hidden window for WM_ENDSESSION (%s): logoff and shutdown end the "
			"shim without a clean stop; the job still kills the anchor",
			w32_strerror(GetLastError(), why, sizeof why));
		return;
	}
	SetWindowLongPtrW(r->hwnd, GWLP_USERDATA, (LONG_PTR)r);
}

static long min_timeout(long a, long b)
{
	if (a < 0)
		return b;
	if (b < 0)
		return a;
	return a < b ? a : b;
}

int w32_cmd_run(const struct shim_config *cfg)
{
	static struct run run;   /* large (buffers): not on the stack */
	struct run *r = &run;
	char dir[SHIM_PATH_MAX], err[SHIM_ERR_MAX];
	HANDLE mutex;

	memset(r, 0, sizeof *r);
	r->cfg = *cfg;
	w32_instance_key(cfg->distro, r->key, sizeof r->key);
	w32_wsl_exe(cfg, r->wsl_exe, sizeof r->wsl_exe);
	if (w32_shim_dir(dir, sizeof dir, true)) {
		w32_err("tether-shim: cannot create the shim's directory (%%LOCALAPPDATA%%\\tether)\n");
		return EXIT_ERROR;
	}
	w32_log_open(dir, cfg->log_max_bytes, cfg->log_files, r->key);
	snprintf(r->status_path, sizeof r->status_path, "%s\\status-%s.txt", dir, r->key);
	for (char *p = r->status_path + strlen(dir) + 1; *p; p++)
		if (strchr("\\/:*?\"<>|", *p))
			*p = '_';

	/* One instance per user and distro: Local\ is this logon session's. */
	wchar_t *mname = w32_object_name("run", r->key), *ename = w32_object_name("stop", r->key);
	mutex = mname ? CreateMutexW(NULL, TRUE, mname) : NULL;
	DWORD merr = GetLastError();
	free(mname);
	if (!mutex || merr == ERROR_ALREADY_EXISTS) {
		w32_log("another tether-shim run already supervises %s: exiting", r->key);
		w32_err("tether-shim: another tether-shim run already supervises %s (see `tether-shim "
			"status`)\n", r->key);
		free(ename);
		return EXIT_ERROR;
	}
	stop_event = ename ? CreateEventW(NULL, TRUE, FALSE, ename) : NULL;
	free(ename);
	done_event = CreateEventW(NULL, TRUE, FALSE, NULL);
	if (!stop_event || !done_event || w32_net_init(err)) {
		w32_log("cannot set up: %s", stop_event && done_event ? err : "CreateEvent failed");
		return EXIT_ERROR;
	}
	SetConsoleCtrlHandler(on_console_ctrl, TRUE);
	if (gui_subsystem())
		create_window(r);
	w32_probe_init(&r->probe);

	w32_log("tether-shim %s run: wsl.exe %s, port %ld, health every %ld ms (timeout %ld, "
		"%ld failures, grace %ld), backoff %ld..%ld ms (stable after %ld), stop timeout %ld ms",
		TETHER_VERSION, r->wsl_exe, cfg->port, cfg->health_interval_ms,
		cfg->health_timeout_ms, cfg->health_failures, cfg->health_grace_ms,
		cfg->backoff_base_ms, cfg->backoff_max_ms, cfg->stable_ms, cfg->stop_timeout_ms);
	shim_sup_init(&r->sup, cfg, w32_now_ms());
	write_status(r);

	for (;;) {
		uint64_t now = w32_now_ms();
		enum shim_action a;
		while ((a = shim_sup_next(&r->sup, now)) != SHIM_ACT_NONE) {
			switch (a) {
			case SHIM_ACT_START:
				do_start(r, now);
				break;
			case SHIM_ACT_HEALTH:
				do_health(r);
				break;
			case SHIM_ACT_CLOSE_STDIN:
				w32_log("closing the anchor's stdin (asks it to stop)");
				w32_child_close_stdin(&r->child);
				break;
			case SHIM_ACT_KILL:
				w32_log("the anchor did not exit within %ld ms: terminating its job",
					r->cfg.stop_timeout_ms);
				w32_child_kill(&r->child);
				break;
			case SHIM_ACT_EXIT:
			case SHIM_ACT_NONE:
				goto done;
			}
			flush_note(r);
			now = w32_now_ms();
		}

		HANDLE h[4];
		DWORD n = 0, w;
		/* A read is always pending on the anchor's output while it runs. */
		if (r->child_live && !r->child.reading)
			w32_child_read(&r->child, 0, on_output, r);
		long timeout = shim_sup_timeout_ms(&r->sup, now);
		h[n++] = stop_event;
		if (r->child_live) {
			h[n++] = r->child.process;
			if (r->child.reading)
				h[n++] = r->child.ov_event;
		}
		if (r->probing) {
			h[n++] = r->probe.event;
			timeout = min_timeout(timeout, r->probe.deadline_ms > now ?
					      (long)(r->probe.deadline_ms - now) : 0);
		}
		DWORD ms = timeout < 0 ? INFINITE : (DWORD)timeout;
		if (r->hwnd)
			w = MsgWaitForMultipleObjects(n, h, FALSE, ms, QS_ALLINPUT);
		else
			w = WaitForMultipleObjects(n, h, FALSE, ms);
		if (r->hwnd && w == WAIT_OBJECT_0 + n) {
			MSG msg;
			while (PeekMessageW(&msg, NULL, 0, 0, PM_REMOVE)) {
				TranslateMessage(&msg);
				DispatchMessageW(&msg);
			}
		}
		now = w32_now_ms();

		/* Look at every source, whichever woke us. */
		if (WaitForSingleObject(stop_event, 0) == WAIT_OBJECT_0) {
			ResetEvent(stop_event);
			shim_sup_stop(&r->sup, now, "stop requested (tether-shim stop, or a console event)");
			flush_note(r);
		}
		if (r->child_live) {
			w32_child_read(&r->child, 0, on_output, r);
			if (WaitForSingleObject(r->child.process, 0) == WAIT_OBJECT_0) {
				on_exit_seen(r);
				flush_note(r);
			}
		}
		if (r->probing && (WaitForSingleObject(r->probe.event, 0) == WAIT_OBJECT_0 ||
				   w32_now_ms() >= r->probe.deadline_ms)) {
			char detail[SHIM_ERR_MAX];
			int rc = w32_probe_step(&r->probe, detail);
			if (rc != 1) {
				r->probing = false;
				shim_sup_health(&r->sup, w32_now_ms(), rc == 0, detail);
				flush_note(r);
			}
		}
	}
done:
	flush_note(r);
	if (r->child_live) {   /* not reached in practice: EXIT comes after the exit */
		w32_child_kill(&r->child);
		w32_child_free(&r->child);
	}
	write_status(r);
	w32_log("stopped");
	SetEvent(done_event);
	ReleaseMutex(mutex);
	CloseHandle(mutex);
	if (r->hwnd)
		DestroyWindow(r->hwnd);
	return EXIT_OK;
}
