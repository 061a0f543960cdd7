/*
 * GET /healthz: tetherd answers 200 with {"status":"ok","version":"..."} and
 * nothing else (docs/protocol.md). The parser takes the bytes received so far
 * and says: healthy, need more, or why not.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

#define HEALTH_RESPONSE_MAX 16384   /* more than this is not tetherd's answer */

int shim_health_request(char *out, size_t cap, long port)
{
	int n = snprintf(out, cap, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:%ld\r\n"
			 "User-Agent: tether-shim\r\nConnection: close\r\n\r\n", port);
	if (n < 0 || (size_t)n >= cap) {
		if (cap)
			out[0] = 0;
		return -ENOSPC;
	}
	return n;
}

static int fail(char err[SHIM_ERR_MAX], const char *what)
{
	snprintf(err, SHIM_ERR_MAX, "%s", what);
	return -EINVAL;
}

struct body_ctx {
	bool status_ok, status_seen;
	char *version;
};

static int on_member(void *opaque, const char *key, const struct shim_json_value *v,
		     char msg[SHIM_ERR_MAX])
{
	struct body_ctx *ctx = opaque;
	if (!strcmp(key, "status")) {
		if (v->type != SHIM_JSON_STRING) {
			snprintf(msg, SHIM_ERR_MAX, "\"status\" is not a string");
			return -EINVAL;
		}
		ctx->status_seen = true;
		ctx->status_ok = !strcmp(v->str, "ok");
		if (!ctx->status_ok) {
			char shown[128];
			snprintf(msg, SHIM_ERR_MAX, "status is \"%s\", not \"ok\"",
				 shim_json_printable(v->str, 64, shown, sizeof shown));
			return -EINVAL;
		}
	} else if (!strcmp(key, "version") && v->type == SHIM_JSON_STRING && ctx->version) {
		snprintf(ctx->version, 64, "%s", v->str);
	}
	return 0;   /* other members: newer daemons may add them */
}

/* Finds header name (case-insensitive) in the header block [h, end). */
static const char *find_header(const char *h, const char *end, const char *name, size_t *vlen)
{
	size_t nlen = strlen(name);
	while (h < end) {
		const char *eol = memchr(h, '\n', (size_t)(end - h));
		if (!eol)
			eol = end;
		if ((size_t)(eol - h) > nlen && !strncasecmp(h, name, nlen) && h[nlen] == ':') {
			const char *v = h + nlen + 1;
			while (v < eol && (*v == ' ' || *v == '\t'))
				v++;
			const char *ve = eol;
			while (ve > v && (ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t'))
				ve--;
			*vlen = (size_t)(ve - v);
			return v;
		}
		h = eol + 1;
	}
	return NULL;
}

int shim_health_parse(const char *buf, size_t len, bool eof, char version[64],
		      char err[SHIM_ERR_MAX])
{
	const char *hdr_end = NULL;
	char msg[SHIM_ERR_MAX];

	if (version)
		version[0] = 0;
	if (len > HEALTH_RESPONSE_MAX)
		return fail(err, "answer larger than 16 KiB: not tetherd");
	for (size_t i = 0; i + 3 < len; i++)
		if (!memcmp(buf + i, "\r\n\r\n", 4)) {
			hdr_end = buf + i + 4;
			break;
		}
	if (len >= 5 && memcmp(buf, "HTTP/", 5))
		return fail(err, "the answer is not HTTP");
	if (!hdr_end) {
		if (!eof)
			return 1;
		return fail(err, len ? "connection closed inside the HTTP header" :
			    "connection closed with no answer");
	}
	/* Status line: HTTP/1.x SP 3DIGIT SP reason */
	if (len < 12 || memcmp(buf, "HTTP/1.", 7) || buf[8] != ' ')
		return fail(err, "malformed HTTP status line");
	int code = 0;
	for (int i = 9; i < 12; i++) {
		if (buf[i] < '0' || buf[i] > '9')
			return fail(err, "malformed HTTP status line");
		code = code * 10 + (buf[i] - '0');
	}
	if (code != 200) {
		snprintf(err, SHIM_ERR_MAX, "HTTP %d from /healthz", code);
		return -EINVAL;
	}
	const char *line_end = memchr(buf, '\n', (size_t)(hdr_end - buf));
	const char *headers = line_end + 1;
	size_t body_len = len - (size_t)(hdr_end - buf), vlen;
	const char *te = find_header(headers, hdr_end, "Transfer-Encoding", &vlen);
	if (te)
		return fail(err, "chunked answer: tetherd sends a Content-Length");
	const char *cl = find_header(headers, hdr_end, "Content-Length", &vlen);
	if (cl) {
		size_t want = 0;
		if (!vlen || vlen > 5)
			return fail(err, "bad Content-Length");
		for (size_t i = 0; i < vlen; i++) {
			if (cl[i] < '0' || cl[i] > '9')
				return fail(err, "bad Content-Length");
			want = want * 10 + (size_t)(cl[i] - '0');
		}
		if (body_len < want)
			return eof ? fail(err, "connection closed before the whole body arrived") : 1;
		if (body_len > want)
			return fail(err, "more bytes than Content-Length");
	} else if (!eof) {
		return 1;   /* the body ends when the connection closes */
	}
	struct body_ctx ctx = { .version = version };
	if (shim_json_object(hdr_end, body_len, on_member, &ctx, msg)) {
		snprintf(err, SHIM_ERR_MAX, "/healthz body: %.450s", msg);
		return -EINVAL;
	}
	if (!ctx.status_seen)
		return fail(err, "/healthz body has no \"status\"");
	return 0;
}
