/* windows-shim/health.c: tetherd's /healthz answer. */
#include <errno.h>
#include <string.h>

#include "shim.h"
#include "check.h"

static int parse(const char *resp, bool eof, char version[64], char err[SHIM_ERR_MAX])
{
	err[0] = 0;
	return shim_health_parse(resp, strlen(resp), eof, version, err);
}

/* What tetherd sends (relay/transport_ws.c through libwebsockets). */
static const char ok[] = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
			 "content-length: 35\r\n\r\n{\"status\":\"ok\",\"version\":\"0.1.0\"}\n\n";

static void health_request_names_the_port_in_host(void)
{
	char req[256];
	CHECK(shim_health_request(req, sizeof req, 7420) > 0);
	CHECK(!strncmp(req, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:7420\r\n", 45));
	CHECK_CONTAINS(req, "Connection: close\r\n\r\n");
	CHECK_EQ(shim_health_request(req, 20, 7420), -ENOSPC);
}

static void health_accepts_tetherds_answer(void)
{
	char v[64], err[SHIM_ERR_MAX];
	/* content-length 35 covers the body and its two newlines */
	CHECK_EQ(parse(ok, false, v, err), 0);
	CHECK(!strcmp(v, "0.1.0"));
}

static void health_waits_for_the_whole_answer(void)
{
	char v[64], err[SHIM_ERR_MAX];
	for (size_t n = 0; n < strlen(ok); n++) {
		int rc = shim_health_parse(ok, n, false, v, err);
		CHECK_EQ(rc, 1);
	}
	/* Without Content-Length the body ends at the close. */
	const char *no_len = "HTTP/1.0 200 OK\r\n\r\n{\"status\":\"ok\"}";
	CHECK_EQ(parse(no_len, false, v, err), 1);
	CHECK_EQ(parse(no_len, true, v, err), 0);
	CHECK_EQ(v[0], 0);
}

static void health_rejects_what_is_not_a_healthy_tetherd(void)
{
	static const struct { const char *resp; bool eof; const char *want; } cases[] = {
		{ "", true, "connection closed with no answer" },
		{ "SSH-2.0-OpenSSH\r\n", false, "not HTTP" },
		{ "HTTP/1.1 200 OK\r\nContent-", true, "closed inside the HTTP header" },
		{ "HTTP/1.1 503 Busy\r\n\r\n", false, "HTTP 503 from /healthz" },
		{ "HTTP/1.1 2x0 OK\r\n\r\n", false, "malformed HTTP status line" },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n{}", true, "before the whole body" },
		{ "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n{}", false, "more bytes than Content-Length" },
		{ "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", false, "bad Content-Length" },
		{ "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false, "chunked" },
		{ "HTTP/1.1 200 OK\r\n\r\nnot json", true, "/healthz body: line 1, column 1" },
		{ "HTTP/1.1 200 OK\r\n\r\n{\"status\":\"starting\"}", true, "status is \"starting\"" },
		{ "HTTP/1.1 200 OK\r\n\r\n{\"version\":\"1\"}", true, "no \"status\"" },
		{ "HTTP/1.1 200 OK\r\n\r\n{\"status\":1}", true, "\"status\" is not a string" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char v[64], err[SHIM_ERR_MAX];
		CHECK(parse(cases[i].resp, cases[i].eof, v, err) < 0);
		CHECK_CONTAINS(err, cases[i].want);
	}
}

static void health_ignores_members_a_newer_daemon_adds(void)
{
	char v[64], err[SHIM_ERR_MAX];
	CHECK_EQ(parse("HTTP/1.1 200 OK\r\n\r\n{\"status\":\"ok\",\"uptime_s\":5,\"x\":{\"y\":[]}}",
		       true, v, err), 0);
}

int main(void)
{
	RUN(health_request_names_the_port_in_host);
	RUN(health_accepts_tetherds_answer);
	RUN(health_waits_for_the_whole_answer);
	RUN(health_rejects_what_is_not_a_healthy_tetherd);
	RUN(health_ignores_members_a_newer_daemon_adds);
	return check_summary();
}
