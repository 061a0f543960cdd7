/* http.c on a real libwebsockets server and a real socket: responses of any
 * size up to the cap arrive whole, written as the client reads them; one over
 * the cap is a 500 that says so, never a cut body; the checks come first. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "internal.h"
#include "check.h"

#define BIG_BYTES (3u << 20)     /* 3 MiB: over 256 KiB, and over the socket buffers */
#define CAP_BYTES (4u << 20)

static uint8_t pattern(size_t i)
{
	return (uint8_t)('a' + i % 23);
}

static void big(void *arg, struct relay_http_response *res)
{
	static uint8_t chunk[65536];
	size_t n = (size_t)(uintptr_t)arg;
	relay_http_set_status(res, 200, "application/octet-stream");
	for (size_t off = 0; off < n; off += sizeof chunk) {
		size_t k = n - off < sizeof chunk ? n - off : sizeof chunk;
		for (size_t i = 0; i < k; i++)
			chunk[i] = pattern(off + i);
		if (relay_http_body_add(res, chunk, k))
			return;
	}
}

static const struct relay_http_route routes[] = {
	{ "/big", false, big, (void *)(uintptr_t)BIG_BYTES },
	{ "/over", false, big, (void *)(uintptr_t)(CAP_BYTES + 1) },
};

static struct relay_config cfg;
static char token[RELAY_TOKEN_HEX + 1];
static int port;

/* ---- the client: a plain socket with a small receive buffer, reading slowly
 * at first, so the server's writes must wait for the socket to drain ------- */

struct reply {
	int status;
	long content_length;
	uint8_t *body;
	size_t body_len;
};

static int request(const char *path, bool with_token, struct reply *r)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), small = 16384;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa))
		return -errno;
	char req[512];
	int n = snprintf(req, sizeof req,
			 "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n%s%s%sConnection: close\r\n\r\n",
			 path, port, with_token ? "Authorization: Bearer " : "",
			 with_token ? token : "", with_token ? "\r\n" : "");
	if (write(fd, req, (size_t)n) != n)
		return -EIO;
	usleep(200 * 1000);   /* let the server fill the socket and wait for it */
	size_t cap = BIG_BYTES + 65536, len = 0;
	uint8_t *buf = malloc(cap);
	ssize_t k;
	while (len < cap && (k = read(fd, buf + len, cap - len)) > 0)
		len += (size_t)k;
	close(fd);
	uint8_t *end = memmem(buf, len, "\r\n\r\n", 4);
	memset(r, 0, sizeof *r);
	r->content_length = -1;
	if (!end || sscanf((char *)buf, "HTTP/1.1 %d", &r->status) != 1) {
		free(buf);
		return -EPROTO;
	}
	*end = 0;
	const char *cl = strcasestr((char *)buf, "content-length:");
	if (cl)
		r->content_length = strtol(cl + 15, NULL, 10);
	r->body_len = len - (size_t)(end + 4 - buf);
	r->body = malloc(r->body_len + 1);
	memcpy(r->body, end + 4, r->body_len);
	r->body[r->body_len] = 0;
	free(buf);
	return 0;
}

static struct reply big_reply, over_reply, no_token_reply;
static int big_rc, over_rc, no_token_rc;
static uv_async_t client_done;

static void *client(void *arg)
{
	(void)arg;
	big_rc = request("/big", true, &big_reply);
	over_rc = request("/over", true, &over_reply);
	no_token_rc = request("/big", false, &no_token_reply);
	uv_async_send(&client_done);
	return NULL;
}

/* ---- the server side ---------------------------------------------------- */

static struct relay_ws *ws;
static uv_timer_t stop_timer;

static void stop_tick(uv_timer_t *t)
{
	relay_ws_stop(ws);
	if (relay_ws_stopped(ws)) {
		uv_timer_stop(t);
		uv_close((uv_handle_t *)t, NULL);
	}
}

static void on_client_done(uv_async_t *a)
{
	uv_close((uv_handle_t *)a, NULL);
	uv_timer_start(&stop_timer, stop_tick, 0, 10);
}

static void responses_of_any_size_up_to_the_cap_arrive_whole(void)
{
	CHECK_EQ(big_rc, 0);
	CHECK_EQ(big_reply.status, 200);
	CHECK_EQ(big_reply.content_length, BIG_BYTES);
	CHECK_EQ(big_reply.body_len, BIG_BYTES);
	size_t bad = 0;
	for (size_t i = 0; i < big_reply.body_len; i++)
		bad += big_reply.body[i] != pattern(i);
	CHECK_EQ(bad, 0);
}

static void a_response_over_the_cap_is_a_500_that_says_so(void)
{
	CHECK_EQ(over_rc, 0);
	CHECK_EQ(over_reply.status, 500);
	CHECK(over_reply.body && strstr((char *)over_reply.body, "\"response_too_large\""));
	CHECK_EQ(over_reply.content_length, (long)over_reply.body_len);
}

static void a_route_without_the_token_is_refused_before_it_runs(void)
{
	CHECK_EQ(no_token_rc, 0);
	CHECK_EQ(no_token_reply.status, 401);
	CHECK(no_token_reply.body && strstr((char *)no_token_reply.body, "\"unauthorized\""));
}

int main(void)
{
	uv_loop_t loop;
	char err[RELAY_ERR_MAX];
	struct relay_conn_env env = { .max_queued_bytes = CAP_BYTES, .max_message_bytes = 1 << 20 };
	struct relay_gate gate = { .cfg = &cfg, .token = token, .routes = routes,
				   .n_routes = sizeof routes / sizeof routes[0] };
	pthread_t th;

	relay_log_open(NULL, RELAY_LOG_ERROR, 0);
	relay_config_defaults(&cfg);
	cfg.max_queued_bytes = CAP_BYTES;
	memset(token, 'a', RELAY_TOKEN_HEX);

	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof sa;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) || listen(fd, 16) ||
	    getsockname(fd, (struct sockaddr *)&sa, &len)) {
		perror("listen");
		return 1;
	}
	port = gate.port = ntohs(sa.sin_port);

	uv_loop_init(&loop);
	if (relay_ws_start(&loop, &env, &gate, fd, &ws, err)) {
		fprintf(stderr, "relay_ws_start: %s\n", err);
		return 1;
	}
	uv_timer_init(&loop, &stop_timer);
	uv_async_init(&loop, &client_done, on_client_done);
	pthread_create(&th, NULL, client, NULL);
	uv_run(&loop, UV_RUN_DEFAULT);
	pthread_join(th, NULL);
	relay_ws_free(ws);
	uv_loop_close(&loop);

	RUN(responses_of_any_size_up_to_the_cap_arrive_whole);
	RUN(a_response_over_the_cap_is_a_500_that_says_so);
	RUN(a_route_without_the_token_is_refused_before_it_runs);
	free(big_reply.body);
	free(over_reply.body);
	free(no_token_reply.body);
	relay_log_close();
	return check_summary();
}
