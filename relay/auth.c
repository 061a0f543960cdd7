/* The checks every HTTP request passes before it reaches the protocol. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

bool relay_host_allowed(const char *host, int port)
{
	static const char *const names[] = { "127.0.0.1", "localhost", "[::1]" };
	if (!host)
		return false;
	const char *colon = strrchr(host, ':');
	if (!colon || colon == host)
		return false;
	size_t name_len = (size_t)(colon - host);
	char want_port[8];
	snprintf(want_port, sizeof want_port, "%d", port);
	if (strcmp(colon + 1, want_port))
		return false;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strlen(names[i]) == name_len && !strncasecmp(host, names[i], name_len))
			return true;
	return false;
}

bool relay_origin_allowed(const char *origin, const struct relay_config *cfg)
{
	if (!origin)
		return true;
	for (int i = 0; i < cfg->n_allowed_origins; i++)
		if (!strcmp(origin, cfg->allowed_origins[i]))
			return true;
	return false;
}

bool relay_bearer_token(const char *authorization, const char **token, size_t *len)
{
	if (!authorization || strncasecmp(authorization, "Bearer ", 7))
		return false;
	const char *t = authorization + 7;
	while (*t == ' ')
		t++;
	size_t n = strlen(t);
	while (n && t[n - 1] == ' ')
		n--;
	*token = t;
	*len = n;
	return n > 0;
}

bool relay_subprotocol_token(const char *protocols, const char **token, size_t *len)
{
	static const char prefix[] = "tether.token.";
	const char *p = protocols;
	while (p && *p) {
		while (*p == ' ' || *p == ',')
			p++;
		size_t n = strcspn(p, ", ");
		if (n > sizeof prefix - 1 && !strncmp(p, prefix, sizeof prefix - 1)) {
			*token = p + sizeof prefix - 1;
			*len = n - (sizeof prefix - 1);
			return true;
		}
		p += n;
	}
	return false;
}

uint64_t relay_backoff_remaining(const struct relay_backoff *b, uint64_t now_ms)
{
	return b->locked_until_ms > now_ms ? b->locked_until_ms - now_ms : 0;
}

void relay_backoff_failure(struct relay_backoff *b, uint64_t now_ms)
{
	if (++b->failures < RELAY_AUTH_FAIL_BURST)
		return;
	if (!b->lockout_ms)
		b->lockout_ms = 1000;
	b->locked_until_ms = now_ms + b->lockout_ms;
	b->lockout_ms *= 2;
	if (b->lockout_ms > RELAY_AUTH_LOCKOUT_MAX_MS)
		b->lockout_ms = RELAY_AUTH_LOCKOUT_MAX_MS;
}

void relay_backoff_success(struct relay_backoff *b)
{
	b->failures = 0;
	b->locked_until_ms = 0;
	b->lockout_ms = 0;
}
