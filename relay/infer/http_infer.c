/* The model lists of the HTTP dialects (docs/http.md): GET /v1/models as
 * OpenAI's API and llama-server give it, GET /api/tags as Ollama's. Both are
 * the models infer.models lists that can be loaded, as of the last scan; each
 * request starts a scan, so a file copied in appears on the next one. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "infer_internal.h"

static void send_json(struct relay_http_response *res, cJSON *j)
{
	char *text = j ? cJSON_PrintUnformatted(j) : NULL;
	cJSON_Delete(j);
	if (!text) {
		relay_http_set_status(res, 500, "application/json");
		relay_http_body_add(res, "{\"error\":\"internal\",\"message\":\"out of memory\"}", 46);
		return;
	}
	relay_http_set_status(res, 200, "application/json");
	relay_http_body_add(res, text, strlen(text));
	cJSON_free(text);
}

/* The type of the weights: the first of the file's types that is not F32
 * (norms and biases are F32 in every quantized file). */
static void weight_type(const struct infer_model *m, char *out, size_t len)
{
	char t[sizeof m->types];
	snprintf(t, sizeof t, "%s", m->types);
	snprintf(out, len, "F32");
	for (char *save, *tok = strtok_r(t, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
		if (strcmp(tok, "F32")) {
			snprintf(out, len, "%s", tok);
			return;
		}
}

static void openai_models(void *arg, struct relay_http_response *res)
{
	struct relay_infer *inf = arg;
	cJSON *j = cJSON_CreateObject(), *data;
	cJSON_AddStringToObject(j, "object", "list");
	data = cJSON_AddArrayToObject(j, "data");
	for (const struct infer_model *m = inf->models; m; m = m->next) {
		if (!m->loadable || !m->present)
			continue;
		cJSON *o = cJSON_CreateObject(), *meta;
		cJSON_AddStringToObject(o, "id", m->id);
		cJSON_AddStringToObject(o, "object", "model");
		cJSON_AddNumberToObject(o, "created", (double)(m->mtime_ns / 1000000000));
		cJSON_AddStringToObject(o, "owned_by", "tether");
		/* llama-server's extra member, which clients read the context from */
		meta = cJSON_AddObjectToObject(o, "meta");
		cJSON_AddStringToObject(meta, "architecture", m->arch);
		cJSON_AddNumberToObject(meta, "n_vocab", m->n_vocab);
		cJSON_AddNumberToObject(meta, "n_ctx_train", m->n_ctx_train);
		cJSON_AddNumberToObject(meta, "n_embd", m->dim);
		cJSON_AddNumberToObject(meta, "n_params", (double)m->n_params);
		cJSON_AddNumberToObject(meta, "size", (double)m->file_bytes);
		cJSON_AddItemToArray(data, o);
	}
	infer_scan_start(inf);
	send_json(res, j);
}

static void ollama_tags(void *arg, struct relay_http_response *res)
{
	struct relay_infer *inf = arg;
	cJSON *j = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(j, "models");
	for (const struct infer_model *m = inf->models; m; m = m->next) {
		if (!m->loadable || !m->present)
			continue;
		char when[40], size[32], quant[32];
		time_t t = (time_t)(m->mtime_ns / 1000000000);
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
		if (m->n_params >= 1000000000)
			snprintf(size, sizeof size, "%.1fB", (double)m->n_params / 1e9);
		else
			snprintf(size, sizeof size, "%.0fM", (double)m->n_params / 1e6);
		weight_type(m, quant, sizeof quant);
		cJSON *o = cJSON_CreateObject(), *d, *fam;
		cJSON_AddStringToObject(o, "name", m->id);
		cJSON_AddStringToObject(o, "model", m->id);
		cJSON_AddStringToObject(o, "modified_at", when);
		cJSON_AddNumberToObject(o, "size", (double)m->file_bytes);
		d = cJSON_AddObjectToObject(o, "details");
		cJSON_AddStringToObject(d, "parent_model", "");
		cJSON_AddStringToObject(d, "format", "gguf");
		cJSON_AddStringToObject(d, "family", m->arch);
		fam = cJSON_AddArrayToObject(d, "families");
		cJSON_AddItemToArray(fam, cJSON_CreateString(m->arch));
		cJSON_AddStringToObject(d, "parameter_size", size);
		cJSON_AddStringToObject(d, "quantization_level", quant);
		cJSON_AddItemToArray(list, o);
	}
	infer_scan_start(inf);
	send_json(res, j);
}

void infer_http_init(struct relay_infer *inf)
{
	inf->routes[0] = (struct relay_http_route){ "/v1/models", false, openai_models, inf };
	inf->routes[1] = (struct relay_http_route){ "/api/tags", false, ollama_tags, inf };
}

size_t infer_http_routes(struct relay_module *m, const struct relay_http_route **out)
{
	struct relay_infer *inf = relay_container_of(m, struct relay_infer, module);
	*out = inf->routes;
	return sizeof inf->routes / sizeof inf->routes[0];
}
