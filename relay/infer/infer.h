/*
 * relay/infer: the inference module (docs/protocol.md, "Inference"): the
 * models tetherd knows (a directory and explicit files), loading and
 * unloading them off the loop, and streams of tokens from a loaded model,
 * several at once on one model, each a channel of its connection.
 */
#ifndef TETHER_RELAY_INFER_H
#define TETHER_RELAY_INFER_H

#include <uv.h>

struct relay_module;

/* The settings of the same names (docs/configuration.md). */
struct relay_infer_limits {
	const char *models_dir;             /* resolved (relay_models_dir) */
	const char *const *model_paths;     /* --model files */
	size_t n_model_paths;
	long parallel;                      /* slots per loaded model */
	long queue;                         /* requests waiting for a slot, per model */
	long max_loaded;                    /* models loaded at once */
	long keep_alive_s;                  /* idle model unloaded after; -1 never */
	long ctx;                           /* a slot's context when a load does not say */
	long threads;                       /* a model's forward pass; 0 = online CPUs */
	long max_memory_mb;                 /* all loaded models together; 0 = MemAvailable only */
};

/* Makes the module (the limits are copied); changed(arg) runs whenever a
 * model is loaded or unloaded or a stream starts or ends. */
int relay_infer_new(uv_loop_t *loop, const struct relay_infer_limits *limits,
		    void (*changed)(void *arg), void *arg, struct relay_module **out);

#endif
