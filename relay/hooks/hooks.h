/*
 * relay/hooks: the agent-hooks module (docs/protocol.md, "Agent hooks"):
 * hook.call from `tether hook`, delivered to subscribed connections, the
 * first valid answer wins; a bounded history.
 */
#ifndef TETHER_RELAY_HOOKS_H
#define TETHER_RELAY_HOOKS_H

#include <uv.h>

struct relay_module;

/* Makes the module; its timeouts run on loop. */
int relay_hooks_new(uv_loop_t *loop, struct relay_module **out);

#endif
