/* A client connection, whatever its transport: the outgoing queue, its cap,
 * and the back-pressure that stops reading a client that does not read. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct relay_conn *relay_conn_new(struct relay_conn_env *env,
				  const struct relay_transport_ops *ops, void *transport)
{
	struct relay_conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->env = env;
	c->ops = ops;
	c->transport = transport;
	c->id = ++env->next_conn_id;
	if (env->opened)
		env->opened(env->arg, c);
	return c;
}

void relay_conn_free(struct relay_conn *c)
{
	struct relay_out *o;
	/* Each gone removes its channel (and may send to other connections). */
	while (c->chans)
		c->chans->ops->gone(c->chans);
	while ((o = relay_conn_pop(c)))
		free(o);
	if (c->env->closed)
		c->env->closed(c->env->arg, c);
	free(c);
}

void relay_chan_add(struct relay_conn *c, struct relay_chan *ch, const struct relay_chan_ops *ops,
		    bool with_id)
{
	ch->ops = ops;
	ch->conn = c;
	ch->id = with_id ? ++c->last_chan_id : 0;
	ch->next = c->chans;
	c->chans = ch;
}

void relay_chan_remove(struct relay_chan *ch)
{
	struct relay_chan **pp;
	for (pp = &ch->conn->chans; *pp && *pp != ch; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = ch->next;
	ch->next = NULL;
}

struct relay_chan *relay_conn_chan(struct relay_conn *c, uint32_t id)
{
	for (struct relay_chan *ch = c->chans; ch; ch = ch->next)
		if (id && ch->id == id)
			return ch;
	return NULL;
}

static size_t max_queued(const struct relay_conn *c)
{
	return c->env->max_queued_bytes;
}

bool relay_conn_full(const struct relay_conn *c)
{
	return c->closing || c->queued_bytes >= max_queued(c);
}

int relay_conn_send(struct relay_conn *c, uint8_t kind, const void *data, size_t len)
{
	return relay_conn_send_parts(c, kind, NULL, 0, data, len);
}

int relay_conn_send_parts(struct relay_conn *c, uint8_t kind, const void *head, size_t hlen,
			  const void *data, size_t len)
{
	len += hlen;
	if (c->closing)
		return -EPIPE;
	if (c->queued_bytes + len > 2 * max_queued(c)) {
		relay_log(RELAY_LOG_WARN, "conn %llu: %zu bytes queued and the client is not "
			  "reading; closing it", (unsigned long long)c->id, c->queued_bytes);
		relay_conn_close(c, 1008, "send queue overflow: the client is not reading");
		return -ENOBUFS;
	}
	struct relay_out *o = malloc(sizeof *o + RELAY_OUT_HEADROOM + len);
	if (!o)
		return -ENOMEM;
	o->next = NULL;
	o->kind = kind;
	o->len = len;
	if (hlen)
		memcpy(o->buf + RELAY_OUT_HEADROOM, head, hlen);
	memcpy(o->buf + RELAY_OUT_HEADROOM + hlen, data, len - hlen);
	if (c->out_tail)
		c->out_tail->next = o;
	else
		c->out_head = o;
	c->out_tail = o;
	c->queued_bytes += len;
	c->ops->kick(c);
	return 0;
}

int relay_conn_send_json(struct relay_conn *c, cJSON *msg)
{
	char *text = msg ? cJSON_PrintUnformatted(msg) : NULL;
	int rc = text ? relay_conn_send(c, RELAY_FRAME_TEXT, text, strlen(text)) : -ENOMEM;
	cJSON_free(text);
	cJSON_Delete(msg);
	return rc;
}

struct relay_out *relay_conn_pop(struct relay_conn *c)
{
	struct relay_out *o = c->out_head;
	if (o) {
		c->out_head = o->next;
		if (!c->out_head)
			c->out_tail = NULL;
	}
	return o;
}

bool relay_conn_pause_if_full(struct relay_conn *c)
{
	if (!c->paused && c->queued_bytes >= max_queued(c)) {
		c->paused = true;
		c->ops->set_paused(c, true);
	}
	return c->paused;
}

void relay_conn_sent(struct relay_conn *c, size_t bytes)
{
	bool was_full = c->queued_bytes >= max_queued(c);
	c->queued_bytes -= bytes < c->queued_bytes ? bytes : c->queued_bytes;
	if (c->paused && c->queued_bytes <= max_queued(c) / 2) {
		c->paused = false;
		c->ops->set_paused(c, false);
	}
	if (was_full && c->queued_bytes < max_queued(c)) {
		struct relay_chan *ch = c->chans, *next;
		for (; ch; ch = next) {
			next = ch->next;   /* drained may end its own channel, never another */
			if (ch->ops->drained)
				ch->ops->drained(ch);
		}
	}
}

void relay_conn_close(struct relay_conn *c, int code, const char *reason)
{
	if (c->closing)
		return;
	c->closing = true;
	c->close_code = reason ? code : 1000;
	snprintf(c->close_reason, sizeof c->close_reason, "%s", reason ? reason : "");
	c->ops->close(c);
}
