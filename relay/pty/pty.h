/*
 * relay/pty: the terminals module (docs/protocol.md, "Terminals"): sessions
 * on pseudo-terminals with an output ring for replay, attached to
 * connections as channels under credit flow control.
 */
#ifndef TETHER_RELAY_PTY_H
#define TETHER_RELAY_PTY_H

#include <uv.h>

struct relay_module;

/* The settings of the same names (docs/configuration.md). */
struct relay_pty_limits {
	long max_sessions;
	long max_sessions_per_connection;
	long ring_bytes;
	long detach_timeout_s;
	long max_detached;
	long default_credit;
	long close_grace_ms;
};

/* Makes the module (it reaps children on loop from now on); changed(arg)
 * runs whenever a session comes or goes. */
int relay_pty_new(uv_loop_t *loop, const struct relay_pty_limits *limits,
		  void (*changed)(void *arg), void *arg, struct relay_module **out);

#endif
