/* The message table: every request type the daemon answers. Each row is
 * defined next to its handler (its type, its module, the members it takes);
 * a new request is a row there and a line here. */
#include <stddef.h>

#include "internal.h"

extern const struct relay_msg relay_msg_hello, relay_msg_status;                   /* core.c */
extern const struct relay_msg relay_msg_pty_open, relay_msg_pty_attach, relay_msg_pty_detach,
	relay_msg_pty_credit, relay_msg_pty_resize, relay_msg_pty_signal, relay_msg_pty_close,
	relay_msg_pty_list;                                                          /* pty/ */
extern const struct relay_msg relay_msg_hook_call, relay_msg_hooks_subscribe,
	relay_msg_hooks_unsubscribe, relay_msg_hooks_respond, relay_msg_hooks_history;  /* hooks/ */
extern const struct relay_msg relay_msg_infer_models, relay_msg_infer_load, relay_msg_infer_unload,
	relay_msg_infer_generate, relay_msg_infer_chat, relay_msg_infer_cancel,
	relay_msg_infer_credit;                                                      /* infer/ */

const struct relay_msg *const relay_messages[] = {
	&relay_msg_hello,
	&relay_msg_status,
	&relay_msg_pty_open,
	&relay_msg_pty_attach,
	&relay_msg_pty_detach,
	&relay_msg_pty_credit,
	&relay_msg_pty_resize,
	&relay_msg_pty_signal,
	&relay_msg_pty_close,
	&relay_msg_pty_list,
	&relay_msg_hook_call,
	&relay_msg_hooks_subscribe,
	&relay_msg_hooks_unsubscribe,
	&relay_msg_hooks_respond,
	&relay_msg_hooks_history,
	&relay_msg_infer_models,
	&relay_msg_infer_load,
	&relay_msg_infer_unload,
	&relay_msg_infer_generate,
	&relay_msg_infer_chat,
	&relay_msg_infer_cancel,
	&relay_msg_infer_credit,
	NULL,
};
