/*
 * relay/infer internals, shared by infer.c (the module: models, loading,
 * status), engine.c (a loaded model's generation thread and its slots) and
 * msg_infer.c (the requests and the streams' channels).
 *
 * Threads: everything but engine.c's thread runs on the loop. A stream is
 * shared by the loop and its engine's thread: the fields marked "engine"
 * are that thread's alone, those marked "mu" are under the engine's mutex,
 * the rest are the loop's. Events go from the thread to the loop through
 * each stream's bounded ring and the engine's uv_async.
 */
#ifndef TETHER_RELAY_INFER_INTERNAL_H
#define TETHER_RELAY_INFER_INTERNAL_H

#include <stdatomic.h>

#include "inference.h"
#include "internal.h"
#include "infer.h"

#define INFER_MAX_SLOTS 64         /* infer_parallel's maximum */
#define INFER_EVENTS_MAX 32        /* events a stream holds for the loop; then it pauses */
#define INFER_MAX_STOPS 8
#define INFER_STOP_MAX_BYTES 256
#define INFER_MAX_LOGPROBS 20
#define INFER_MAX_MESSAGES 1024
#define INFER_DEFAULT_CREDIT 256   /* deltas a stream sends before the client grants more */
#define INFER_MAX_CREDIT (1L << 30)
#define INFER_PROMPT_CHUNK 128     /* prompt tokens per step while other slots generate */
#define INFER_ID_MAX 200

struct infer_engine;
struct infer_model;

/* What a stream asks for, fixed when it is made (owned by the stream). */
struct infer_request {
	char *prompt;                       /* raw prompt; NULL for chat */
	struct inf_chat_message *msgs;      /* chat: role and content strings owned */
	size_t n_msgs;
	int32_t max_tokens;                 /* 0: what the context leaves */
	struct inf_sampler_params sampling;
	char *stops[INFER_MAX_STOPS];
	size_t n_stops;
	int logprobs;                       /* top entries per token; 0: none */
};

struct infer_stream {
	struct relay_chan chan;             /* on its connection; chan.id is the channel */
	struct relay_infer *mod;            /* borrowed */
	struct infer_model *model;          /* borrowed; the model outlives its streams */
	struct infer_stream *next;          /* the module's list of live streams */
	struct infer_stream *next_waiting;  /* the model's list while it loads */
	uint64_t id;
	bool orphaned;                      /* the connection is gone: events are dropped */
	bool submitted;                     /* handed to the engine */
	struct infer_request req;
	double t_submit_ms;

	/* mu: the ring from the thread to the loop, credit, cancel */
	char *ring[INFER_EVENTS_MAX];
	size_t ring_len[INFER_EVENTS_MAX];
	unsigned ring_head, ring_n;
	bool ended;                         /* the done event is in the ring */
	long credit;                        /* deltas the thread may still make */
	bool cancel;
	bool dirty;                         /* on the engine's dirty list */
	struct infer_stream *next_dirty, *next_pending;
	const char *state;                  /* "queued", "prompt", "generating", "paused", "done" */
	size_t n_generated;                 /* for status */

	/* engine */
	int slot;                           /* -1 until admitted */
	int32_t *ids;                       /* prompt then generated tokens */
	size_t n_prompt, n_ids, cap_ids;
	size_t n_evaluated;                 /* of ids, in the slot's cache */
	size_t n_cached;                    /* prompt tokens reused from the cache */
	int32_t next_token;                 /* sampled, to be evaluated; -1: none */
	size_t n_gen;
	struct inf_sampler *sampler;
	struct inf_stop_matcher *stop;
	char pend[8];                       /* bytes of a character not yet whole */
	size_t n_pend;
	const char *chat_family;
	uint64_t seed;
	double t_admit_ms, t_prompt_ms, t_first_ms, t_last_ms;
};

/* ---- engine.c: a loaded model's generation thread ------------------------ */

struct infer_engine_params {
	uint32_t n_slots, n_ctx, n_threads;
	long queue;                          /* pending streams beyond the slots */
	enum inf_kv_type kv_type;
};

/* Takes the model (freed with the engine) and makes the slots' contexts:
 * off the loop (the loader's worker). INF_* codes with err. */
int infer_engine_create(struct inf_model *model, const struct infer_engine_params *p,
			struct infer_engine **out, char err[INF_ERR_MAX]);
/* On the loop: starts the thread; notify(arg) runs on the loop when
 * streams have events. On failure the engine is freed (later, as its
 * handle closes). */
int infer_engine_run(struct infer_engine *e, uv_loop_t *loop, void (*notify)(void *arg), void *arg,
		     char err[INF_ERR_MAX]);
/* Frees an engine that was created and never run. */
void infer_engine_discard(struct infer_engine *e);
/* Bytes the slots' contexts take (KV cache and scratch). */
uint64_t infer_engine_context_bytes(const struct inf_model *model, const struct infer_engine_params *p);
/* Queues a stream (whose credit and request are set): -EBUSY when the queue
 * is full. The engine holds it until its done event is in the ring. */
int infer_engine_submit(struct infer_engine *e, struct infer_stream *st);
void infer_engine_cancel(struct infer_engine *e, struct infer_stream *st);
void infer_engine_grant(struct infer_engine *e, struct infer_stream *st, long credit);
/* A stream with new events since it was last taken (off the list, which
 * the thread may add it to again meanwhile), or NULL: one at a time, so the
 * thread never relinks a list the loop is walking. */
struct infer_stream *infer_engine_next_dirty(struct infer_engine *e);
/* The oldest event of st, or NULL; *last: it is the done event (st is then
 * off the dirty list, for the loop to free). The loop frees the event. */
char *infer_engine_pop(struct infer_engine *e, struct infer_stream *st, size_t *len, bool *last);
/* Streams running and waiting now; and whether a stream of the engine is
 * still queued or running (busy). */
void infer_engine_counts(struct infer_engine *e, size_t *active, size_t *pending);
/* What status says of a stream the engine holds or held. */
void infer_engine_stream_state(struct infer_engine *e, const struct infer_stream *st,
			       const char **state, size_t *generated);
/* Ends every stream ("unloaded") and the thread, which frees the contexts
 * and the model off the loop; then notify runs once more and
 * infer_engine_stopped is true. */
void infer_engine_stop(struct infer_engine *e);
bool infer_engine_stopped(struct infer_engine *e);
/* Once stopped: frees it (its async handle closes first); done(arg) after. */
void infer_engine_free(struct infer_engine *e, void (*done)(void *arg), void *arg);
void infer_engine_settings(const struct infer_engine *e, struct infer_engine_params *p,
			   enum inf_isa *isa);

/* Frees the request's strings. */
void infer_request_free(struct infer_request *r);

/* ---- infer.c: the module and its models ---------------------------------- */

enum infer_model_state { MODEL_UNLOADED, MODEL_LOADING, MODEL_LOADED, MODEL_UNLOADING };

struct infer_load_wait;

struct infer_model {
	struct infer_model *next;
	struct relay_infer *inf;            /* borrowed: the module */
	char id[INFER_ID_MAX + 1];
	char path[RELAY_PATH_MAX];
	bool present;                       /* found by the last scan */
	uint64_t file_bytes;
	int64_t mtime_ns;
	/* from the last scan */
	bool loadable;
	char reason[INF_ERR_MAX];           /* why not loadable */
	char arch[32], name[128], chat_family[32], types[160];
	uint32_t n_ctx_train, n_layer, dim, n_vocab;
	uint64_t n_params, weight_bytes;
	/* loading and loaded */
	enum infer_model_state state;
	bool awaiting_room;                 /* loading: waits for a model to unload first */
	struct infer_engine *engine;
	struct infer_engine_params params;  /* of the load in progress or done */
	uint64_t memory_bytes;              /* weights + contexts, while loaded */
	atomic_uint_fast64_t progress_ppm;  /* the loader's, in millionths */
	uint64_t progress_sent_ppm;
	uint64_t last_used_ms, loaded_at_ms;
	struct infer_load_wait *waits;      /* infer.load requests waiting for this load */
	struct infer_stream *waiting;       /* streams waiting for this load */
};

struct relay_infer {
	struct relay_module module;
	uv_loop_t *loop;
	struct relay_infer_limits limits;   /* strings copied into the fields below */
	char models_dir[RELAY_PATH_MAX];
	char (*model_paths)[RELAY_PATH_MAX];
	struct infer_model *models;
	struct infer_stream *streams;       /* live: made and not yet ended on the loop */
	uint64_t next_stream_id;
	struct infer_scan *scan;            /* the scan running, or NULL */
	bool rescan;                        /* another scan was asked for meanwhile */
	struct infer_list_wait *list_waits; /* infer.models replies waiting for the scan */
	uv_async_t progress;                /* a loader moved on */
	uv_timer_t keep_alive;              /* the next idle unload */
	int open_handles;
	int loads_running;
	bool shutting_down;
	void (*changed)(void *arg);
	void *changed_arg;
	struct relay_http_route routes[2];  /* http_infer.c's */
};

/* ---- http_infer.c: the HTTP dialects' routes ---- */
void infer_http_init(struct relay_infer *inf);
size_t infer_http_routes(struct relay_module *m, const struct relay_http_route **out);

/* The model with this id, or NULL. */
struct infer_model *infer_model_find(struct relay_infer *inf, const char *id);
/* Starts a load (or joins the one running); the model's waiters hear of it. */
void infer_model_load(struct relay_infer *inf, struct infer_model *m,
		      const struct infer_engine_params *p);
/* The params a load uses when a request does not say. */
void infer_default_params(const struct relay_infer *inf, struct infer_engine_params *p);
/* The engine of an unloading model has ended its thread: free it. */
void infer_engine_gone(struct infer_model *m);
/* Unloads a loaded model with no streams; -EBUSY with streams. */
int infer_model_unload(struct relay_infer *inf, struct infer_model *m);
/* Asks for a scan of the models; done(arg) on the loop once it is merged. */
void infer_scan_start(struct relay_infer *inf);
/* The model as infer.models and status describe it (a new object). */
cJSON *infer_model_json(const struct relay_infer *inf, const struct infer_model *m);
void infer_changed(struct relay_infer *inf);

/* ---- msg_infer.c ---------------------------------------------------------- */

/* A load finished (rc 0) or failed: tell every waiter, start waiting streams. */
void infer_load_done(struct relay_infer *inf, struct infer_model *m, int rc, const char *code,
		     const char *err);
/* Sends infer.progress to those waiting for m. */
void infer_load_progress(struct relay_infer *inf, struct infer_model *m, double fraction);
/* The scan finished: answer every infer.models waiting. */
void infer_list_answer(struct relay_infer *inf);
/* The engine's notify: move events from the rings to the connections. */
void infer_pump(void *arg);
/* Ends a stream that never reached the engine with an error event. */
void infer_stream_fail(struct infer_stream *st, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif
