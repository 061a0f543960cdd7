/* Replies, errors and the readers of optional request members: what every
 * handler uses to answer. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

void relay_proto_error(struct relay_conn *c, const cJSON *id, const char *code,
		       const char *field, const char *request, const char *fmt, ...)
{
	char message[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(message, sizeof message, fmt, ap);
	va_end(ap);

	cJSON *msg = relay_proto_reply("error", id);
	cJSON_AddStringToObject(msg, "code", code);
	cJSON_AddStringToObject(msg, "message", message);
	if (field)
		cJSON_AddStringToObject(msg, "field", field);
	if (request)
		cJSON_AddStringToObject(msg, "request", request);
	relay_log(RELAY_LOG_DEBUG, "conn %llu: error %s: %s", (unsigned long long)c->id, code,
		  message);
	relay_conn_send_json(c, msg);
}

cJSON *relay_proto_id(const cJSON *id)
{
	char digits[32];
	if (!id)
		return cJSON_CreateNull();
	if (!cJSON_IsNumber(id))
		return cJSON_Duplicate(id, 1);
	/* cJSON prints doubles with 15 significant digits; an integer id up to
	 * 2^53 must come back digit for digit. */
	snprintf(digits, sizeof digits, "%.0f", id->valuedouble);
	return cJSON_CreateRaw(digits);
}

cJSON *relay_proto_reply(const char *type, const cJSON *id)
{
	cJSON *msg = cJSON_CreateObject();
	cJSON_AddStringToObject(msg, "type", type);
	cJSON_AddItemToObject(msg, "id", relay_proto_id(id));
	return msg;
}

/* Reads an optional integer member into *out (left alone when absent).
 * Sends invalid_field and returns false when it is not an integer in range. */
bool relay_proto_int_field(struct relay_conn *c, const cJSON *req, const cJSON *id,
			   const char *type, const char *name, double min, double max, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, name);
	if (!v)
		return true;
	if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) ||
	    v->valuedouble < min || v->valuedouble > max) {
		relay_proto_error(c, id, "invalid_field", name, type,
				  "\"%s\" must be an integer from %.0f to %.0f", name, min, max);
		return false;
	}
	*out = v->valuedouble;
	return true;
}

bool relay_proto_bool_field(struct relay_conn *c, const cJSON *req, const cJSON *id,
			    const char *type, const char *name, bool *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, name);
	if (!v)
		return true;
	if (!cJSON_IsBool(v)) {
		relay_proto_error(c, id, "invalid_field", name, type, "\"%s\" must be true or false",
				  name);
		return false;
	}
	*out = cJSON_IsTrue(v);
	return true;
}

bool relay_proto_number_field(struct relay_conn *c, const cJSON *req, const cJSON *id,
			      const char *type, const char *name, double min, double max, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, name);
	if (!v)
		return true;
	if (!cJSON_IsNumber(v) || !(v->valuedouble >= min && v->valuedouble <= max)) {
		relay_proto_error(c, id, "invalid_field", name, type,
				  "\"%s\" must be a number from %g to %g", name, min, max);
		return false;
	}
	*out = v->valuedouble;
	return true;
}

bool relay_proto_string_field(struct relay_conn *c, const cJSON *req, const cJSON *id,
			      const char *type, const char *name, size_t max, bool text,
			      const char **out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, name);
	if (!v)
		return true;
	bool ok = cJSON_IsString(v) && (text || *v->valuestring) && strlen(v->valuestring) <= max;
	for (const char *p = ok && !text ? v->valuestring : ""; *p; p++)
		ok &= (unsigned char)*p >= 0x20;
	if (!ok) {
		relay_proto_error(c, id, "invalid_field", name, type, text ?
				  "\"%s\" must be a string of at most %zu bytes" :
				  "\"%s\" must be a string of 1 to %zu bytes without control characters",
				  name, max);
		return false;
	}
	*out = v->valuestring;
	return true;
}
