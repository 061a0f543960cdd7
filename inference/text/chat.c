/*
 * Chat templates: tokenizer.chat_template is Jinja; rather than run Jinja,
 * the common families are recognised by their markers and rendered here
 * exactly as their reference templates render (docs/tokenizers.md lists the
 * reference template of each family and the detection rules). A template
 * that matches no family is INF_CHAT_UNKNOWN, and applying it is an error.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "text.h"

/* DeepSeek's markers: U+FF5C FULLWIDTH VERTICAL LINE, U+2581 for spaces */
#define DS_USER "<\xEF\xBD\x9CUser\xEF\xBD\x9C>"
#define DS_ASSISTANT "<\xEF\xBD\x9C" "Assistant\xEF\xBD\x9C>"
#define DS_END "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>"

static bool has(const char *s, const char *sub)
{
	return strstr(s, sub) != NULL;
}

enum inf_chat_family inf_chat_detect(const char *t)
{
	if (!t || !*t)
		return INF_CHAT_UNKNOWN;
	if (has(t, "<|im_start|>")) {
		if (has(t, "<|im_sep|>")) /* phi-4: ChatML markers, another layout */
			return INF_CHAT_UNKNOWN;
		return INF_CHAT_CHATML;
	}
	if (has(t, "<|start_header_id|>") && has(t, "<|end_header_id|>") && has(t, "<|eot_id|>")) {
		if (has(t, "Cutting Knowledge Date") && has(t, "Today Date: "))
			return INF_CHAT_LLAMA31;
		/* Function-calling templates on Llama 3 markers (functionary,
		 * firefunction) write system prompts of their own; so does one
		 * with "Cutting Knowledge Date" but no "Today Date" (functionary
		 * v3.1): not this family. */
		if (has(t, "Cutting Knowledge Date") || has(t, "function"))
			return INF_CHAT_UNKNOWN;
		return INF_CHAT_LLAMA3;
	}
	if (has(t, "<start_of_turn>") && has(t, "<end_of_turn>"))
		return INF_CHAT_GEMMA;
	if (has(t, "<|user|>") || has(t, "'<|' + message['role'] + '|>'")) {
		if (has(t, "<|end|>")) {
			/* Phi-3-mini's first template drops system messages and puts
			 * <|assistant|> after each user turn: not this family. */
			if (has(t, "'<|' + message['role'] + '|>'") || has(t, "<|system|>"))
				return INF_CHAT_PHI3;
			return INF_CHAT_UNKNOWN;
		}
		if (has(t, "eos_token") && has(t, "<|assistant|>"))
			return INF_CHAT_ZEPHYR;
		return INF_CHAT_UNKNOWN;
	}
	if (has(t, "[INST]") && has(t, "[/INST]")) {
		if (has(t, "<<SYS>>"))
			return INF_CHAT_LLAMA2;
		if ((has(t, "'[INST] ' + message['content'] + ' [/INST]'") ||
		     has(t, "\"[INST] \" + message[\"content\"] + \" [/INST]\"")) &&
		    !has(t, "' [INST] '"))
			return INF_CHAT_MISTRAL;
		if (has(t, "\"[INST] \" + message[\"content\"] + \"[/INST]\"") ||
		    has(t, "'[INST] ' + message['content'] + '[/INST]'"))
			return INF_CHAT_MISTRAL_V3;
		/* Mistral Nemo: no space after [INST] */
		if (has(t, "\"[INST]\" + message[\"content\"] + \"[/INST]\"") ||
		    has(t, "'[INST]' + message['content'] + '[/INST]'"))
			return INF_CHAT_MISTRAL_TEKKEN;
		return INF_CHAT_UNKNOWN;
	}
	/* DeepSeek-R1-Distill (Qwen and Llama): the last system prompt right
	 * after BOS, user turns without the assistant marker. Templates that
	 * join every system prompt (is_first_sp: DeepSeek-V3's later ones,
	 * R1-0528's, which also puts the marker after each user turn) and
	 * llama.cpp's edited copies that close <think> unless enable_thinking
	 * render otherwise: not this family. */
	if (has(t, DS_USER) && has(t, DS_ASSISTANT) && has(t, DS_END)) {
		if (has(t, "{{bos_token}}{{ns.system_prompt}}") &&
		    has(t, "{{'" DS_USER "' + message['content']}}") &&
		    !has(t, "enable_thinking") && !has(t, "is_first_sp"))
			return INF_CHAT_DEEPSEEK_R1;
		return INF_CHAT_UNKNOWN;
	}
	return INF_CHAT_UNKNOWN;
}

const char *inf_chat_family_name(enum inf_chat_family f)
{
	switch (f) {
	case INF_CHAT_CHATML:
		return "chatml";
	case INF_CHAT_LLAMA3:
		return "llama3";
	case INF_CHAT_LLAMA2:
		return "llama2";
	case INF_CHAT_ZEPHYR:
		return "zephyr";
	case INF_CHAT_GEMMA:
		return "gemma";
	case INF_CHAT_PHI3:
		return "phi3";
	case INF_CHAT_MISTRAL:
		return "mistral";
	case INF_CHAT_MISTRAL_V3:
		return "mistral-v3";
	case INF_CHAT_LLAMA31:
		return "llama3.1";
	case INF_CHAT_MISTRAL_TEKKEN:
		return "mistral-v3-tekken";
	case INF_CHAT_DEEPSEEK_R1:
		return "deepseek-r1";
	default:
		return "unknown";
	}
}

/* ---- a growing string ---- */

struct buf {
	char *s;
	size_t len, cap;
	bool failed;
};

static void put(struct buf *b, const char *s, size_t len)
{
	if (b->failed)
		return;
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *p;

		while (cap < b->len + len + 1)
			cap *= 2;
		p = realloc(b->s, cap);
		if (!p) {
			b->failed = true;
			return;
		}
		b->s = p, b->cap = cap;
	}
	memcpy(b->s + b->len, s, len);
	b->len += len;
	b->s[b->len] = 0;
}

static void puts_(struct buf *b, const char *s)
{
	if (s)
		put(b, s, strlen(s));
}

/* Python's str.strip() (Jinja's trim): Unicode whitespace at both ends. */
static size_t space_at(const char *s, size_t len)
{
	static const char *const u[] = {"\xC2\x85", "\xC2\xA0", "\xE1\x9A\x80", "\xE2\x80\xA8",
		"\xE2\x80\xA9", "\xE2\x80\xAF", "\xE2\x81\x9F", "\xE3\x80\x80"};
	unsigned char c = (unsigned char)s[0];

	if ((c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20))
		return 1;
	if (len >= 3 && c == 0xE2 && (unsigned char)s[1] == 0x80 &&
	    (unsigned char)s[2] >= 0x80 && (unsigned char)s[2] <= 0x8A)
		return 3; /* U+2000-U+200A */
	for (size_t i = 0; i < sizeof u / sizeof u[0]; i++) {
		size_t n = strlen(u[i]);

		if (len >= n && memcmp(s, u[i], n) == 0)
			return n;
	}
	return 0;
}

static void put_trimmed(struct buf *b, const char *s)
{
	size_t len = strlen(s), start = 0, end = len, k;

	while (start < end && (k = space_at(s + start, end - start)))
		start += k;
	while (end > start) {
		/* find the character that ends at end */
		size_t from = end - 1;

		while (from > start && ((unsigned char)s[from] & 0xC0) == 0x80 && end - from < 4)
			from--;
		if (space_at(s + from, end - from) == end - from)
			end = from;
		else
			break;
	}
	put(b, s + start, end - start);
}

static bool role_is(const struct inf_chat_message *m, const char *role)
{
	return strcmp(m->role, role) == 0;
}

/* user/assistant alternate, starting with user (after an optional leading
 * system message when allow_system), as the [INST] and Gemma templates
 * demand with raise_exception. */
static int check_alternation(enum inf_chat_family f, const struct inf_chat_message *msgs,
			     size_t n, bool allow_system, char *err)
{
	size_t start = allow_system && n && role_is(&msgs[0], "system") ? 1 : 0;

	for (size_t i = start; i < n; i++) {
		const char *want = (i - start) % 2 == 0 ? "user" : "assistant";

		if (!role_is(&msgs[i], want)) {
			if (role_is(&msgs[i], "system"))
				inf_text_set_err(err, "chat template %s: a system message is only possible "
					"%s", inf_chat_family_name(f),
					allow_system ? "first" : "nowhere (the template rejects it)");
			else
				inf_text_set_err(err, "chat template %s: message %zu has role \"%.32s\" where "
					"roles must alternate user/assistant", inf_chat_family_name(f),
					i, msgs[i].role);
			return INF_TEXT_EINVAL;
		}
	}
	return 0;
}

/* What a particular template adds to its family's rendering. */
struct variant {
	const char *default_system; /* ChatML: the template's own system prompt */
	bool open_last;             /* Qwen1.5: the last message stays open without add_assistant */
	bool no_prompt_after_assistant; /* Qwen1.5: no assistant prompt when the last message is one */
	bool eos_space;             /* Mistral v0.1: ' ' after each assistant's </s> */
	bool system_first_user;     /* Gemma 3: the system message opens the first user turn */
	bool phi3_no_bos;           /* Phi-3.5, Phi-3-mini-128k: the template writes no bos_token */
	bool phi3_skip_empty_system; /* Phi-3.5: a system message with empty content is skipped */
	const char *date;           /* Llama 3.1+: "Today Date: " (the template's date_string) */
	bool tekken_space_trim;     /* Ministral: assistant " " + trim(content), Nemo: content */
	bool deepseek_no_think;     /* R1-Distill's first template: the prompt opens no <think>\n */
	bool deepseek_keep_thinking; /* a template without content.split('</think>')[-1] */
};

static void render_chatml(struct buf *b, const struct inf_chat_message *msgs, size_t n,
			  bool add_assistant, const struct variant *v)
{
	if (v->default_system && (!n || !role_is(&msgs[0], "system"))) {
		puts_(b, "<|im_start|>system\n");
		puts_(b, v->default_system);
		puts_(b, "<|im_end|>\n");
	}
	for (size_t i = 0; i < n; i++) {
		puts_(b, "<|im_start|>");
		puts_(b, msgs[i].role);
		puts_(b, "\n");
		puts_(b, msgs[i].content);
		/* Qwen1.5: {% if (loop.last and add_generation_prompt) or not loop.last %} */
		if (!(v->open_last && i == n - 1 && !add_assistant))
			puts_(b, "<|im_end|>\n");
	}
	if (add_assistant && !(v->no_prompt_after_assistant && n && role_is(&msgs[n - 1], "assistant")))
		puts_(b, "<|im_start|>assistant\n");
}

static void llama3_turn(struct buf *b, const char *role, const char *content)
{
	puts_(b, "<|start_header_id|>");
	puts_(b, role);
	puts_(b, "<|end_header_id|>\n\n");
	put_trimmed(b, content);
	puts_(b, "<|eot_id|>");
}

static int render(enum inf_chat_family f, struct buf *b, const struct inf_chat_message *msgs,
		  size_t n, bool add_assistant, const char *bos, const char *eos,
		  const struct variant *v, char *err)
{
	size_t start = 0;
	const char *system = NULL;
	int rc;

	switch (f) {
	case INF_CHAT_CHATML:
		render_chatml(b, msgs, n, add_assistant, v);
		return 0;
	case INF_CHAT_LLAMA3:
		for (size_t i = 0; i < n; i++) {
			if (i == 0)
				puts_(b, bos);
			llama3_turn(b, msgs[i].role, msgs[i].content);
		}
		if (add_assistant)
			puts_(b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
		return 0;
	case INF_CHAT_LLAMA31:
		puts_(b, bos);
		puts_(b, "<|start_header_id|>system<|end_header_id|>\n\n");
		puts_(b, "Cutting Knowledge Date: December 2023\nToday Date: ");
		puts_(b, v->date ? v->date : "26 Jul 2024");
		puts_(b, "\n\n");
		if (n && role_is(&msgs[0], "system")) {
			put_trimmed(b, msgs[0].content);
			start = 1;
		}
		puts_(b, "<|eot_id|>");
		for (size_t i = start; i < n; i++)
			llama3_turn(b, msgs[i].role, msgs[i].content);
		if (add_assistant)
			puts_(b, "<|start_header_id|>assistant<|end_header_id|>\n\n");
		return 0;
	case INF_CHAT_LLAMA2:
		if ((rc = check_alternation(f, msgs, n, true, err)))
			return rc;
		if (n && role_is(&msgs[0], "system"))
			system = msgs[0].content, start = 1;
		for (size_t i = start; i < n; i++) {
			if (role_is(&msgs[i], "user")) {
				struct buf content = {0};

				if (i == start && system) {
					puts_(&content, "<<SYS>>\n");
					puts_(&content, system);
					puts_(&content, "\n<</SYS>>\n\n");
				}
				puts_(&content, msgs[i].content);
				puts_(b, bos);
				puts_(b, "[INST] ");
				if (content.failed)
					b->failed = true;
				else
					put_trimmed(b, content.s ? content.s : "");
				free(content.s);
				puts_(b, " [/INST]");
			} else {
				puts_(b, " ");
				put_trimmed(b, msgs[i].content);
				puts_(b, " ");
				puts_(b, eos);
			}
		}
		return 0;
	case INF_CHAT_MISTRAL:
		if ((rc = check_alternation(f, msgs, n, false, err)))
			return rc;
		puts_(b, bos);
		for (size_t i = 0; i < n; i++) {
			if (role_is(&msgs[i], "user")) {
				puts_(b, "[INST] ");
				puts_(b, msgs[i].content);
				puts_(b, " [/INST]");
			} else {
				puts_(b, msgs[i].content);
				puts_(b, eos);
				if (v->eos_space)
					puts_(b, " ");
			}
		}
		return 0;
	case INF_CHAT_MISTRAL_V3:
	case INF_CHAT_MISTRAL_TEKKEN: {
		/* v3 and Ministral put a space before a trimmed reply; Nemo does not */
		bool tekken = f == INF_CHAT_MISTRAL_TEKKEN;
		bool spaced_reply = !tekken || v->tekken_space_trim;
		if ((rc = check_alternation(f, msgs, n, true, err)))
			return rc;
		if (n && role_is(&msgs[0], "system"))
			system = msgs[0].content, start = 1;
		puts_(b, bos);
		for (size_t i = start; i < n; i++) {
			if (role_is(&msgs[i], "user")) {
				puts_(b, tekken ? "[INST]" : "[INST] ");
				if (system && i == n - 1) { /* only on the very last message */
					puts_(b, system);
					puts_(b, "\n\n");
				}
				puts_(b, msgs[i].content);
				puts_(b, "[/INST]");
			} else if (spaced_reply) {
				puts_(b, " ");
				put_trimmed(b, msgs[i].content);
				puts_(b, eos);
			} else {
				puts_(b, msgs[i].content);
				puts_(b, eos);
			}
		}
		return 0;
	}
	case INF_CHAT_ZEPHYR:
		for (size_t i = 0; i < n; i++) {
			puts_(b, "<|");
			puts_(b, msgs[i].role);
			puts_(b, "|>\n");
			puts_(b, msgs[i].content);
			puts_(b, eos);
			puts_(b, "\n");
		}
		if (add_assistant && n)
			puts_(b, "<|assistant|>\n");
		return 0;
	case INF_CHAT_GEMMA:
		if ((rc = check_alternation(f, msgs, n, v->system_first_user, err)))
			return rc;
		if (v->system_first_user && n && role_is(&msgs[0], "system"))
			system = msgs[0].content, start = 1;
		puts_(b, bos);
		for (size_t i = start; i < n; i++) {
			puts_(b, "<start_of_turn>");
			puts_(b, role_is(&msgs[i], "assistant") ? "model" : msgs[i].role);
			puts_(b, "\n");
			if (system && i == start) { /* first_user_prefix: not trimmed */
				puts_(b, system);
				puts_(b, "\n\n");
			}
			put_trimmed(b, msgs[i].content);
			puts_(b, "<end_of_turn>\n");
		}
		if (add_assistant)
			puts_(b, "<start_of_turn>model\n");
		return 0;
	case INF_CHAT_PHI3:
		if (!v->phi3_no_bos)
			puts_(b, bos);
		for (size_t i = 0; i < n; i++) {
			if (v->phi3_skip_empty_system && role_is(&msgs[i], "system") && !*msgs[i].content)
				continue;
			puts_(b, "<|");
			puts_(b, msgs[i].role);
			puts_(b, "|>\n");
			puts_(b, msgs[i].content);
			puts_(b, "<|end|>\n");
		}
		puts_(b, add_assistant ? "<|assistant|>\n" : eos);
		return 0;
	case INF_CHAT_DEEPSEEK_R1:
		/* the last system message's content, right after BOS */
		puts_(b, bos);
		for (size_t i = 0; i < n; i++)
			if (role_is(&msgs[i], "system"))
				system = msgs[i].content;
		if (system)
			puts_(b, system);
		for (size_t i = 0; i < n; i++) {
			const char *c = msgs[i].content, *think;

			if (role_is(&msgs[i], "user")) {
				puts_(b, DS_USER);
				puts_(b, c);
			} else if (role_is(&msgs[i], "assistant")) {
				/* content.split('</think>')[-1] */
				while (!v->deepseek_keep_thinking && (think = strstr(c, "</think>")))
					c = think + strlen("</think>");
				puts_(b, DS_ASSISTANT);
				puts_(b, c);
				puts_(b, DS_END);
			}
		}
		if (add_assistant)
			puts_(b, v->deepseek_no_think ? DS_ASSISTANT : DS_ASSISTANT "<think>\n");
		return 0;
	default:
		inf_text_set_err(err, "chat template: family %d is unknown (the known families: chatml, "
			"llama3, llama3.1, llama2, mistral, mistral-v3, mistral-v3-tekken, zephyr, gemma, "
			"phi3, deepseek-r1); use raw completion", (int)f);
		return INF_TEXT_EUNSUPPORTED;
	}
}

static int apply(enum inf_chat_family family, const struct inf_chat_message *msgs, size_t n,
		 bool add_assistant, const char *bos, const char *eos, const struct variant *v,
		 char **out, char *err)
{
	struct buf b = {0};
	int rc;

	*out = NULL;
	for (size_t i = 0; i < n; i++) {
		if (!msgs[i].role || !msgs[i].content) {
			inf_text_set_err(err, "chat: message %zu has no %s", i, msgs[i].role ? "content" : "role");
			return INF_TEXT_EINVAL;
		}
		if (!role_is(&msgs[i], "system") && !role_is(&msgs[i], "user") &&
		    !role_is(&msgs[i], "assistant")) {
			inf_text_set_err(err, "chat: message %zu has role \"%.32s\" (system, user or "
				"assistant)", i, msgs[i].role);
			return INF_TEXT_EINVAL;
		}
	}
	rc = render(family, &b, msgs, n, add_assistant, bos ? bos : "", eos ? eos : "",
		    v, err);
	if (!rc && b.failed) {
		inf_text_set_err(err, "chat: out of memory");
		rc = INF_TEXT_ENOMEM;
	}
	if (rc) {
		free(b.s);
		return rc;
	}
	if (!b.s) {
		b.s = calloc(1, 1);
		if (!b.s) {
			inf_text_set_err(err, "chat: out of memory");
			return INF_TEXT_ENOMEM;
		}
	}
	*out = b.s;
	return 0;
}

int inf_chat_apply(enum inf_chat_family family, const struct inf_chat_message *msgs,
		   size_t n_msgs, bool add_assistant, const char *bos_text, const char *eos_text,
		   char **out, char err[INF_TEXT_ERR_MAX])
{
	struct variant v = {0};

	return apply(family, msgs, n_msgs, add_assistant, bos_text, eos_text, &v, out, err);
}

/* A ChatML template's built-in system prompt (Qwen2, Qwen2.5, SmolLM2 write
 * one for conversations that bring none): the literal text in
 * '<|im_start|>system\n...<|im_end|>' inside a template string. */
static char *chatml_default_system(const char *t)
{
	static const char marker[] = "<|im_start|>system";

	for (const char *p = strstr(t, marker); p; p = strstr(p + 1, marker)) {
		const char *q = p + sizeof marker - 1, *end;
		char *out, *o;

		if (strncmp(q, "\\n", 2) == 0)
			q += 2;
		else if (*q == '\n')
			q++;
		else
			continue;
		end = strstr(q, "<|im_end|>");
		if (!end || end == q || memchr(q, '\'', (size_t)(end - q)) ||
		    memchr(q, '"', (size_t)(end - q)) || memchr(q, '{', (size_t)(end - q)))
			continue; /* not a literal: e.g. ' + messages[0]['content'] + ' */
		out = malloc((size_t)(end - q) + 1);
		if (!out)
			return NULL;
		for (o = out; q < end; q++) { /* Jinja string escapes */
			if (*q == '\\' && q + 1 < end) {
				q++;
				*o++ = *q == 'n' ? '\n' : *q == 't' ? '\t' : *q;
			} else {
				*o++ = *q;
			}
		}
		*o = 0;
		return out;
	}
	return NULL;
}

/* Llama 3.1+'s date_string when the caller gives none, as the template
 * decides: strftime_now("%d %b %Y") when it calls that (Llama 3.2:
 * transformers and llama.cpp define it), else its literal default
 * (set date_string = "26 Jul 2024"). English month names, whatever the
 * locale, as Python's strftime in the C locale. */
static void template_date(const char *t, time_t now, char out[32])
{
	static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
		"Aug", "Sep", "Oct", "Nov", "Dec"};
	static const char lit[] = "set date_string = \"";
	const char *p = strstr(t, lit), *q;

	if (strstr(t, "strftime_now(\"%d %b %Y\")") || strstr(t, "strftime_now('%d %b %Y')")) {
		struct tm tm;

		if (!now)
			now = time(NULL);
		if (localtime_r(&now, &tm)) {
			snprintf(out, 32, "%02d %s %04d", tm.tm_mday, months[tm.tm_mon % 12],
				 tm.tm_year + 1900);
			return;
		}
	}
	snprintf(out, 32, "26 Jul 2024");
	if (p && (q = strchr(p + sizeof lit - 1, '"')) && q - (p + sizeof lit - 1) < 31)
		snprintf(out, 32, "%.*s", (int)(q - (p + sizeof lit - 1)), p + sizeof lit - 1);
}

int inf_chat_apply_template(const char *template_text, const struct inf_chat_message *msgs,
			    size_t n_msgs, bool add_assistant, const char *bos_text,
			    const char *eos_text, char **out, char err[INF_TEXT_ERR_MAX])
{
	return inf_chat_apply_template_opt(template_text, msgs, n_msgs, add_assistant, bos_text,
					   eos_text, NULL, out, err);
}

int inf_chat_apply_template_opt(const char *template_text, const struct inf_chat_message *msgs,
				size_t n_msgs, bool add_assistant, const char *bos_text,
				const char *eos_text, const struct inf_chat_options *opt, char **out,
				char err[INF_TEXT_ERR_MAX])
{
	enum inf_chat_family f = inf_chat_detect(template_text);
	struct variant v = {0};
	char *system = NULL, date[32];
	int rc;

	*out = NULL;
	if (opt && opt->date_string && strlen(opt->date_string) > 31) {
		inf_text_set_err(err, "chat: date_string is %zu bytes (at most 31)", strlen(opt->date_string));
		return INF_TEXT_EINVAL;
	}
	if (f == INF_CHAT_UNKNOWN) {
		inf_text_set_err(err, "chat template: %s; use raw completion",
			template_text && *template_text ?
				"the model's tokenizer.chat_template is not one of the known "
				"families (chatml, llama3, llama3.1, llama2, mistral, mistral-v3, "
				"mistral-v3-tekken, zephyr, gemma, phi3, deepseek-r1)" :
				"the model has no tokenizer.chat_template");
		return INF_TEXT_EUNSUPPORTED;
	}
	if (f == INF_CHAT_CHATML) {
		v.default_system = system = chatml_default_system(template_text);
		v.open_last = has(template_text, "(loop.last and add_generation_prompt) or not loop.last");
		v.no_prompt_after_assistant = has(template_text, "messages[-1]['role'] != 'assistant'");
	}
	if (f == INF_CHAT_MISTRAL)
		v.eos_space = strstr(template_text, "eos_token + ' '") != NULL;
	if (f == INF_CHAT_MISTRAL_TEKKEN)
		v.tekken_space_trim = has(template_text, "\" \" + message[\"content\"]|trim");
	if (f == INF_CHAT_GEMMA)
		v.system_first_user = has(template_text, "first_user_prefix");
	if (f == INF_CHAT_PHI3) {
		v.phi3_no_bos = !has(template_text, "bos_token");
		v.phi3_skip_empty_system = has(template_text, "message['role'] == 'system' and message['content']");
	}
	if (f == INF_CHAT_DEEPSEEK_R1) {
		v.deepseek_no_think = !has(template_text, DS_ASSISTANT "<think>\\n");
		v.deepseek_keep_thinking = !has(template_text, "content.split('</think>')[-1]");
	}
	if (f == INF_CHAT_LLAMA31) {
		if (opt && opt->date_string)
			snprintf(date, sizeof date, "%s", opt->date_string);
		else
			template_date(template_text, opt ? (time_t)opt->now : 0, date);
		v.date = date;
	}
	rc = apply(f, msgs, n_msgs, add_assistant, bos_text, eos_text, &v, out, err);
	free(system);
	return rc;
}
