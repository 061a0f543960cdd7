/*
 * Starting wsl.exe: hidden, inside a job object that kills it when the shim's
 * handle closes (so a killed shim leaves no wsl.exe behind), stdin a pipe we
 * can close to ask the anchor to stop, stdout and stderr one overlapped named
 * pipe that the run loop waits on with everything else.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "win32.h"

static LONG pipe_serial;

static int fail_win(char err[SHIM_ERR_MAX], const char *what, DWORD code)
{
	char why[300];
	snprintf(err, SHIM_ERR_MAX, "%s: %s", what, w32_strerror(code, why, sizeof why));
	return -EIO;
}

int w32_child_start(struct w32_child *c, const char *const *argv, int argc,
		    char err[SHIM_ERR_MAX])
{
	static char cmd[32768];   /* CreateProcessW's limit, in UTF-16 units */
	SECURITY_ATTRIBUTES inherit = { sizeof inherit, NULL, TRUE };
	HANDLE in_r = NULL, out_w = INVALID_HANDLE_VALUE;
	wchar_t *wapp = NULL, *wcmd = NULL, pipe_name[96];
	PROCESS_INFORMATION pi = { 0 };
	int rc = -EIO;

	memset(c, 0, sizeof *c);
	c->out_r = INVALID_HANDLE_VALUE;
	if (shim_cmdline_build(cmd, sizeof cmd, argv, argc) < 0) {
		snprintf(err, SHIM_ERR_MAX, "cannot build a command line for %.300s", argv[0]);
		return -EINVAL;
	}
	wapp = w32_wide(argv[0]);
	wcmd = w32_wide(cmd);
	if (!wapp || !wcmd) {
		snprintf(err, SHIM_ERR_MAX, "out of memory");
		goto fail;
	}
	/* stdin: an anonymous pipe; only the child's end is inheritable. */
	if (!CreatePipe(&in_r, &c->stdin_w, &inherit, 0)) {
		fail_win(err, "CreatePipe", GetLastError());
		goto fail;
	}
	SetHandleInformation(c->stdin_w, HANDLE_FLAG_INHERIT, 0);
	/* stdout + stderr: anonymous pipes cannot be overlapped, a named one can. */
	swprintf(pipe_name, 96, L"\\\\.\\pipe\\tether-shim-%lu-%ld",
		 (unsigned long)GetCurrentProcessId(), (long)InterlockedIncrement(&pipe_serial));
	c->out_r = CreateNamedPipeW(pipe_name, PIPE_ACCESS_INBOUND | FILE_FLAG_OVERLAPPED |
				    FILE_FLAG_FIRST_PIPE_INSTANCE,
				    PIPE_TYPE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS, 1, 0,
				    65536, 0, NULL);
	if (c->out_r == INVALID_HANDLE_VALUE) {
		fail_win(err, "CreateNamedPipe", GetLastError());
		goto fail;
	}
	out_w = CreateFileW(pipe_name, GENERIC_WRITE, 0, &inherit, OPEN_EXISTING,
			    FILE_ATTRIBUTE_NORMAL, NULL);
	if (out_w == INVALID_HANDLE_VALUE) {
		fail_win(err, "opening the output pipe", GetLastError());
		goto fail;
	}
	c->ov_event = CreateEventW(NULL, TRUE, FALSE, NULL);
	/* The job: not inheritable (NULL attributes), kill-on-close. */
	c->job = CreateJobObjectW(NULL, NULL);
	JOBOBJECT_EXTENDED_LIMIT_INFORMATION li;
	memset(&li, 0, sizeof li);
	li.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE;
	if (!c->ov_event || !c->job ||
	    !SetInformationJobObject(c->job, JobObjectExtendedLimitInformation, &li, sizeof li)) {
		fail_win(err, "creating the job object", GetLastError());
		goto fail;
	}

	STARTUPINFOW si;
	memset(&si, 0, sizeof si);
	si.cb = sizeof si;
	si.dwFlags = STARTF_USESTDHANDLES | STARTF_USESHOWWINDOW;
	si.wShowWindow = SW_HIDE;
	si.hStdInput = in_r;
	si.hStdOutput = out_w;
	si.hStdError = out_w;
	/* Suspended until it is in the job, so nothing it starts escapes it. */
	if (!CreateProcessW(wapp, wcmd, NULL, NULL, TRUE,
			    CREATE_SUSPENDED | CREATE_NO_WINDOW | CREATE_UNICODE_ENVIRONMENT, NULL,
			    NULL, &si, &pi)) {
		char what[SHIM_PATH_MAX + 32];
		snprintf(what, sizeof what, "cannot start %s", argv[0]);
		fail_win(err, what, GetLastError());
		goto fail;
	}
	if (!AssignProcessToJobObject(c->job, pi.hProcess)) {
		fail_win(err, "AssignProcessToJobObject", GetLastError());
		TerminateProcess(pi.hProcess, 1);
		CloseHandle(pi.hProcess);
		CloseHandle(pi.hThread);
		goto fail;
	}
	ResumeThread(pi.hThread);
	CloseHandle(pi.hThread);
	c->process = pi.hProcess;
	c->pid = pi.dwProcessId;
	rc = 0;
fail:
	if (in_r)
		CloseHandle(in_r);
	if (out_w != INVALID_HANDLE_VALUE)
		CloseHandle(out_w);
	free(wapp);
	free(wcmd);
	if (rc)
		w32_child_free(c);
	return rc;
}

bool w32_child_read(struct w32_child *c, DWORD wait_ms,
		    void (*emit)(void *ctx, const void *data, size_t len), void *ctx)
{
	for (int round = 0; round < 16 && !c->out_eof; round++) {
		DWORD n = 0;
		if (!c->reading) {
			memset(&c->ov, 0, sizeof c->ov);
			ResetEvent(c->ov_event);
			c->ov.hEvent = c->ov_event;
			if (ReadFile(c->out_r, c->buf, sizeof c->buf, &n, &c->ov)) {
				if (n)
					emit(ctx, c->buf, n);
				continue;
			}
			if (GetLastError() != ERROR_IO_PENDING) {
				c->out_eof = true;   /* ERROR_BROKEN_PIPE: every writer is gone */
				break;
			}
			c->reading = true;
		}
		if (WaitForSingleObject(c->ov_event, round ? 0 : wait_ms) != WAIT_OBJECT_0)
			break;
		c->reading = false;
		if (!GetOverlappedResult(c->out_r, &c->ov, &n, FALSE)) {
			c->out_eof = true;
			break;
		}
		if (n)
			emit(ctx, c->buf, n);
	}
	return !c->out_eof;
}

void w32_child_close_stdin(struct w32_child *c)
{
	if (c->stdin_w) {
		CloseHandle(c->stdin_w);
		c->stdin_w = NULL;
	}
}

void w32_child_kill(struct w32_child *c)
{
	if (c->job)
		TerminateJobObject(c->job, 1);
}

void w32_child_free(struct w32_child *c)
{
	DWORD n;
	if (c->reading && c->out_r != INVALID_HANDLE_VALUE) {
		CancelIo(c->out_r);
		GetOverlappedResult(c->out_r, &c->ov, &n, TRUE);
		c->reading = false;
	}
	w32_child_close_stdin(c);
	if (c->out_r != INVALID_HANDLE_VALUE)
		CloseHandle(c->out_r);
	if (c->ov_event)
		CloseHandle(c->ov_event);
	if (c->process)
		CloseHandle(c->process);
	if (c->job)
		CloseHandle(c->job);   /* kill-on-close: whatever is left dies here */
	memset(c, 0, sizeof *c);
	c->out_r = INVALID_HANDLE_VALUE;
}

struct capture {
	char *out;
	size_t cap, len;
};

static void capture_emit(void *ctx, const void *data, size_t len)
{
	struct capture *cp = ctx;
	size_t room = cp->cap - 1 - cp->len;
	if (len > room)
		len = room;
	memcpy(cp->out + cp->len, data, len);
	cp->len += len;
}

int w32_run_capture(const char *const *argv, int argc, DWORD timeout_ms, char *out, size_t cap,
		    size_t *out_len, DWORD *exit_code, char err[SHIM_ERR_MAX])
{
	struct w32_child c;
	struct capture cp = { out, cap, 0 };
	uint64_t deadline = w32_now_ms() + timeout_ms;
	int rc;

	out[0] = 0;
	*out_len = 0;
	if ((rc = w32_child_start(&c, argv, argc, err)))
		return rc;
	w32_child_close_stdin(&c);
	for (;;) {
		uint64_t now = w32_now_ms();
		if (now >= deadline) {
			w32_child_kill(&c);
			w32_child_free(&c);
			snprintf(err, SHIM_ERR_MAX, "%.300s did not finish within %lu ms", argv[0],
				 (unsigned long)timeout_ms);
			return -ETIMEDOUT;
		}
		w32_child_read(&c, 0, capture_emit, &cp);
		if (WaitForSingleObject(c.process, 0) == WAIT_OBJECT_0) {
			/* Exited: take what is still in the pipe. */
			for (;;) {
				size_t before = cp.len;
				if (!w32_child_read(&c, 200, capture_emit, &cp) || cp.len == before)
					break;
			}
			break;
		}
		HANDLE h[2] = { c.process, c.ov_event };
		WaitForMultipleObjects(c.reading ? 2 : 1, h, FALSE, (DWORD)(deadline - now));
	}
	GetExitCodeProcess(c.process, exit_code);
	w32_child_free(&c);
	out[cp.len] = 0;
	*out_len = cp.len;
	return 0;
}

int w32_default_distro(const char *wsl_exe, char *name, size_t cap, char err[SHIM_ERR_MAX])
{
	static char raw[65536], text[3 * 65536];
	static struct shim_distro list[64];
	const char *argv[8];
	int argc = shim_wsl_argv(SHIM_WSL_LIST, wsl_exe, "", argv), n, rc;
	size_t len;
	DWORD code = 0;

	if ((rc = w32_run_capture(argv, argc, 10000, raw, sizeof raw, &len, &code, err)))
		return rc;
	shim_text_decode(raw, len, text, sizeof text);
	if (code != 0) {
		for (char *p = text; *p; p++)
			if (*p == '\n')
				*p = ' ';
		snprintf(err, SHIM_ERR_MAX, "wsl.exe -l -v failed (exit code %ld): %.400s",
			 (long)(int)code, text);
		return -EIO;
	}
	if ((rc = shim_wsl_parse_list(text, list, 64, &n, err)))
		return rc;
	for (int i = 0; i < n; i++)
		if (list[i].is_default) {
			snprintf(name, cap, "%s", list[i].name);
			return 0;
		}
	snprintf(err, SHIM_ERR_MAX, "wsl.exe -l -v lists %d distros and marks none as the default", n);
	return -ENOENT;
}
