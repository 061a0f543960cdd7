/*
 * One health check: GET /healthz on 127.0.0.1:PORT over a non-blocking
 * socket whose events (WSAEventSelect) join the run loop's wait, so a check
 * that hangs never holds up a stop or an exit. 127.0.0.1, not localhost: WSL
 * forwards a 127.0.0.1 listener to Windows' 127.0.0.1 (DESIGN.md).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <ws2tcpip.h>

#include "win32.h"

int w32_net_init(char err[SHIM_ERR_MAX])
{
	WSADATA wsa;
	int rc = WSAStartup(MAKEWORD(2, 2), &wsa);
	if (rc) {
		char why[256];
		snprintf(err, SHIM_ERR_MAX, "WSAStartup: %s", w32_strerror((DWORD)rc, why, sizeof why));
		return -EIO;
	}
	return 0;
}

void w32_probe_init(struct w32_probe *p)
{
	memset(p, 0, sizeof *p);
	p->sock = INVALID_SOCKET;
	p->event = WSACreateEvent();
}

void w32_probe_cancel(struct w32_probe *p)
{
	if (p->sock != INVALID_SOCKET) {
		closesocket(p->sock);   /* also cancels its WSAEventSelect */
		p->sock = INVALID_SOCKET;
	}
	WSAResetEvent(p->event);
}

static int probe_fail(struct w32_probe *p, char detail[SHIM_ERR_MAX], const char *what, int code)
{
	char why[256];
	if (code)
		snprintf(detail, SHIM_ERR_MAX, "%s: %s", what, w32_strerror((DWORD)code, why, sizeof why));
	else
		snprintf(detail, SHIM_ERR_MAX, "%s", what);
	w32_probe_cancel(p);
	return -EIO;
}

int w32_probe_start(struct w32_probe *p, long port, long timeout_ms, char detail[SHIM_ERR_MAX])
{
	struct sockaddr_in sa;

	w32_probe_cancel(p);
	p->sent = false;
	p->resp_len = 0;
	p->deadline_ms = w32_now_ms() + (uint64_t)timeout_ms;
	p->req_len = shim_health_request(p->req, sizeof p->req, port);
	p->sock = socket(AF_INET, SOCK_STREAM, IPPROTO_TCP);
	if (p->sock == INVALID_SOCKET)
		return probe_fail(p, detail, "socket", WSAGetLastError());
	/* Not inherited by the wsl.exe started next. */
	SetHandleInformation((HANDLE)p->sock, HANDLE_FLAG_INHERIT, 0);
	if (WSAEventSelect(p->sock, p->event, FD_CONNECT | FD_READ | FD_WRITE | FD_CLOSE))
		return probe_fail(p, detail, "WSAEventSelect", WSAGetLastError());
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((u_short)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(p->sock, (struct sockaddr *)&sa, sizeof sa) && WSAGetLastError() != WSAEWOULDBLOCK)
		return probe_fail(p, detail, "connect to 127.0.0.1", WSAGetLastError());
	return 1;
}

int w32_probe_step(struct w32_probe *p, char detail[SHIM_ERR_MAX])
{
	WSANETWORKEVENTS ev;
	char version[64], why[SHIM_ERR_MAX];
	bool closed = false;

	if (p->sock == INVALID_SOCKET)
		return probe_fail(p, detail, "no check in progress", 0);
	if (WSAEnumNetworkEvents(p->sock, p->event, &ev))
		return probe_fail(p, detail, "WSAEnumNetworkEvents", WSAGetLastError());
	if ((ev.lNetworkEvents & FD_CONNECT) && ev.iErrorCode[FD_CONNECT_BIT])
		return probe_fail(p, detail, "connect to 127.0.0.1", ev.iErrorCode[FD_CONNECT_BIT]);
	if (!p->sent && (ev.lNetworkEvents & (FD_CONNECT | FD_WRITE))) {
		if (send(p->sock, p->req, p->req_len, 0) != p->req_len)
			return probe_fail(p, detail, "send", WSAGetLastError());
		p->sent = true;
	}
	if (ev.lNetworkEvents & FD_CLOSE)
		closed = true;
	if (ev.lNetworkEvents & (FD_READ | FD_CLOSE)) {
		for (;;) {
			size_t room = sizeof p->resp - 1 - p->resp_len;
			if (!room)
				break;
			int n = recv(p->sock, p->resp + p->resp_len, (int)room, 0);
			if (n > 0) {
				p->resp_len += (size_t)n;
				continue;
			}
			if (n == 0)
				closed = true;
			else if (WSAGetLastError() != WSAEWOULDBLOCK)
				return probe_fail(p, detail, "recv", WSAGetLastError());
			break;
		}
	}
	int rc = shim_health_parse(p->resp, p->resp_len, closed, version, why);
	if (rc == 0) {
		snprintf(detail, SHIM_ERR_MAX, "version %s", version[0] ? version : "?");
		w32_probe_cancel(p);
		return 0;
	}
	if (rc < 0)
		return probe_fail(p, detail, why, 0);
	if (w32_now_ms() >= p->deadline_ms) {
		snprintf(why, sizeof why, "no answer within the health timeout (%s)",
			 p->sent ? "connected, waiting for the answer" : "connecting");
		return probe_fail(p, detail, why, 0);
	}
	return 1;
}

int w32_probe_once(long port, long timeout_ms, char detail[SHIM_ERR_MAX])
{
	struct w32_probe p;
	int rc;

	w32_probe_init(&p);
	rc = w32_probe_start(&p, port, timeout_ms, detail);
	while (rc == 1) {
		uint64_t now = w32_now_ms();
		DWORD wait = p.deadline_ms > now ? (DWORD)(p.deadline_ms - now) : 0;
		WSAWaitForMultipleEvents(1, &p.event, FALSE, wait, FALSE);
		rc = w32_probe_step(&p, detail);
	}
	w32_probe_cancel(&p);
	WSACloseEvent(p.event);
	return rc;
}
