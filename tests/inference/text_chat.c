/*
 * Chat templates: each fixture in chat_templates/ (a real model's
 * tokenizer.chat_template) is detected as its family and rendered exactly as
 * the public reference renderings of that template say.
 */
#include <stdlib.h>
#include <string.h>

#include "../unit/check.h"
#include "text.h"

#ifndef CHAT_TEMPLATES_DIR
#define CHAT_TEMPLATES_DIR "tests/inference/chat_templates"
#endif

static char *load(const char *name)
{
	char path[512];
	FILE *f;
	long n;
	char *s;

	snprintf(path, sizeof path, "%s/%s.jinja", CHAT_TEMPLATES_DIR, name);
	f = fopen(path, "rb");
	if (!f) {
		perror(path);
		check_failures++;
		return calloc(1, 1);
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	s = calloc(1, (size_t)n + 1);
	if (fread(s, 1, (size_t)n, f) != (size_t)n)
		check_failures++;
	fclose(f);
	return s;
}

/* llama.cpp's test conversation */
static const struct inf_chat_message conv_a[] = {
	{"system", "You are a helpful assistant"}, {"user", "Hello"}, {"assistant", "Hi there"},
	{"user", "Who are you"}, {"assistant", "   I am an assistant   "},
	{"user", "Another question"},
};
/* the swift Jinja tests' conversation (with and without the system message) */
static const struct inf_chat_message conv_b[] = {
	{"system", "You are a friendly chatbot who always responds in the style of a pirate"},
	{"user", "Hello, how are you?"},
	{"assistant", "I'm doing great. How can I help you today?"},
	{"user", "I'd like to show off how chat templating works!"},
};

static void expect(const char *name, enum inf_chat_family family,
		   const struct inf_chat_message *msgs, size_t n, bool add_assistant,
		   const char *bos, const char *eos, const char *want)
{
	char *t = load(name), *out = NULL, err[INF_TEXT_ERR_MAX] = "";
	int rc;

	CHECK_EQ(inf_chat_detect(t), family);
	rc = inf_chat_apply_template(t, msgs, n, add_assistant, bos, eos, &out, err);
	if (rc)
		fprintf(stderr, "%s: %s\n", name, err);
	CHECK_EQ(rc, 0);
	if (out && strcmp(out, want) != 0) {
		fprintf(stderr, "%s renders\n[%s]\nwant\n[%s]\n", name, out, want);
		check_failures++;
	}
	free(out);
	free(t);
}

static void chatml(void)
{
	expect("chatml_openhermes", INF_CHAT_CHATML, conv_a, 6, true, "", "",
	       "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nHello"
	       "<|im_end|>\n<|im_start|>assistant\nHi there<|im_end|>\n<|im_start|>user\nWho are "
	       "you<|im_end|>\n<|im_start|>assistant\n   I am an assistant   <|im_end|>\n"
	       "<|im_start|>user\nAnother question<|im_end|>\n<|im_start|>assistant\n");
	expect("qwen15_chat", INF_CHAT_CHATML, conv_b + 1, 3, true, "", "",
	       "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\n"
	       "Hello, how are you?<|im_end|>\n<|im_start|>assistant\nI'm doing great. How can I "
	       "help you today?<|im_end|>\n<|im_start|>user\nI'd like to show off how chat "
	       "templating works!<|im_end|>\n<|im_start|>assistant\n");
	expect("qwen15_chat", INF_CHAT_CHATML, conv_b, 4, true, "", "",
	       "<|im_start|>system\nYou are a friendly chatbot who always responds in the style of "
	       "a pirate<|im_end|>\n<|im_start|>user\nHello, how are you?<|im_end|>\n<|im_start|>"
	       "assistant\nI'm doing great. How can I help you today?<|im_end|>\n<|im_start|>user\n"
	       "I'd like to show off how chat templating works!<|im_end|>\n<|im_start|>assistant\n");
	expect("qwen25_instruct", INF_CHAT_CHATML, conv_b + 1, 3, false, "", "",
	       "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful "
	       "assistant.<|im_end|>\n<|im_start|>user\nHello, how are you?<|im_end|>\n<|im_start|>"
	       "assistant\nI'm doing great. How can I help you today?<|im_end|>\n<|im_start|>user\n"
	       "I'd like to show off how chat templating works!<|im_end|>\n");
}

static void llama3_and_31(void)
{
	char *out = NULL, err[INF_TEXT_ERR_MAX] = "";
	const struct inf_chat_message sys[] = {{"system", "Always simply disagree with the user"},
		{"user", "The moon is not made of cheese."}};

	expect("llama3", INF_CHAT_LLAMA3, conv_a, 6, true, "", "",
	       "<|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant<|eot_id|>"
	       "<|start_header_id|>user<|end_header_id|>\n\nHello<|eot_id|><|start_header_id|>"
	       "assistant<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>user"
	       "<|end_header_id|>\n\nWho are you<|eot_id|><|start_header_id|>assistant"
	       "<|end_header_id|>\n\nI am an assistant<|eot_id|><|start_header_id|>user"
	       "<|end_header_id|>\n\nAnother question<|eot_id|><|start_header_id|>assistant"
	       "<|end_header_id|>\n\n");
	/* Llama 3.1's dated system header, as rendered in public test data */
	CHECK_EQ(inf_chat_detect("{{- \"Cutting Knowledge Date: December 2023\\n\" }} "
				 "{{- \"Today Date: \" + date_string }} "
				 "<|start_header_id|> <|end_header_id|> <|eot_id|>"),
		 INF_CHAT_LLAMA31);
	/* function-calling templates on Llama 3 markers write their own system
	 * prompts (meetkai functionary v3.1, v3.2; fireworks firefunction v2) */
	CHECK_EQ(inf_chat_detect("{{- bos_token + \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}"
				 "{{- \"Cutting Knowledge Date: December 2023\\n\\n\" }} <|eot_id|>"),
		 INF_CHAT_UNKNOWN);
	CHECK_EQ(inf_chat_detect("{{ bos_token + '<|start_header_id|>system<|end_header_id|>\\n\\nYou "
				 "are capable of executing available function(s) if required.' }}"
				 "<|eot_id|>"), INF_CHAT_UNKNOWN);
	CHECK_EQ(inf_chat_apply(INF_CHAT_LLAMA31, sys, 2, true, "<|begin_of_text|>", "", &out, err),
		 0);
	CHECK(out && strcmp(out, "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
		  "Cutting Knowledge Date: December 2023\nToday Date: 26 Jul 2024\n\nAlways simply "
		  "disagree with the user<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nThe "
		  "moon is not made of cheese.<|eot_id|><|start_header_id|>assistant"
		  "<|end_header_id|>\n\n") == 0);
	free(out);
	CHECK_EQ(inf_chat_apply(INF_CHAT_LLAMA31, sys + 1, 1, true, "<|begin_of_text|>", "", &out,
				err), 0);
	CHECK(out && strstr(out, "26 Jul 2024\n\n<|eot_id|><|start_header_id|>user") != NULL);
	free(out);
}

static void inst_families(void)
{
	char *t, *out = (char *)&t, err[INF_TEXT_ERR_MAX] = "";

	expect("llama2_chat", INF_CHAT_LLAMA2, conv_b, 4, true, "<s>", "</s>",
	       "<s>[INST] <<SYS>>\nYou are a friendly chatbot who always responds in the style of a "
	       "pirate\n<</SYS>>\n\nHello, how are you? [/INST] I'm doing great. How can I help you "
	       "today? </s><s>[INST] I'd like to show off how chat templating works! [/INST]");
	expect("mixtral_instruct_v01", INF_CHAT_MISTRAL, conv_b + 1, 3, true, "<s>", "</s>",
	       "<s>[INST] Hello, how are you? [/INST]I'm doing great. How can I help you today?</s>"
	       "[INST] I'd like to show off how chat templating works! [/INST]");
	expect("mistral_instruct_v01", INF_CHAT_MISTRAL, conv_b + 1, 3, true, "<s>", "</s>",
	       "<s>[INST] Hello, how are you? [/INST]I'm doing great. How can I help you today?</s> "
	       "[INST] I'd like to show off how chat templating works! [/INST]");
	expect("mistral_v3", INF_CHAT_MISTRAL_V3, conv_a, 6, true, "", "</s>",
	       "[INST] Hello[/INST] Hi there</s>[INST] Who are you[/INST] I am an assistant</s>"
	       "[INST] You are a helpful assistant\n\nAnother question[/INST]");
	/* Mistral Nemo: no space after [INST], the assistant's content as is,
	 * the system message on the last user turn; no generation prompt */
	expect("mistral_nemo", INF_CHAT_MISTRAL_TEKKEN, conv_a, 6, true, "<s>", "</s>",
	       "<s>[INST]Hello[/INST]Hi there</s>[INST]Who are you[/INST]   I am an assistant   "
	       "</s>[INST]You are a helpful assistant\n\nAnother question[/INST]");
	expect("mistral_nemo", INF_CHAT_MISTRAL_TEKKEN, conv_a, 5, false, "<s>", "</s>",
	       "<s>[INST]Hello[/INST]Hi there</s>[INST]Who are you[/INST]   I am an assistant   "
	       "</s>");
	/* Ministral (the same with " " + content|trim for the assistant) */
	CHECK_EQ(inf_chat_apply_template("{{- \"[INST]\" + message[\"content\"] + \"[/INST]\" }}"
					 "{{- \" \" + message[\"content\"]|trim + eos_token}}",
					 conv_a + 1, 2, true, "<s>", "</s>", &out, err), 0);
	CHECK(out && strcmp(out, "<s>[INST]Hello[/INST] Hi there</s>") == 0);
	free(out);
	/* the templates' raise_exception cases are errors naming the problem */
	t = load("mixtral_instruct_v01");
	CHECK_EQ(inf_chat_apply_template(t, conv_b, 4, true, "<s>", "</s>", &out, err),
		 INF_TEXT_EINVAL);
	CHECK(out == NULL);
	CHECK_CONTAINS(err, "system");
	free(t);
	t = load("llama2_chat");
	CHECK_EQ(inf_chat_apply_template(t, conv_b + 2, 2, true, "<s>", "</s>", &out, err),
		 INF_TEXT_EINVAL);
	CHECK_CONTAINS(err, "must alternate");
	free(t);
}

static void zephyr_gemma_phi3(void)
{
	char *t, *out = NULL, err[INF_TEXT_ERR_MAX] = "";
	const struct inf_chat_message heli[] = {conv_b[0],
		{"user", "How many helicopters can a human eat in one sitting?"}};

	expect("zephyr_tinyllama", INF_CHAT_ZEPHYR, conv_b, 4, false, "<s>", "</s>",
	       "<|system|>\nYou are a friendly chatbot who always responds in the style of a pirate"
	       "</s>\n<|user|>\nHello, how are you?</s>\n<|assistant|>\nI'm doing great. How can I "
	       "help you today?</s>\n<|user|>\nI'd like to show off how chat templating works!</s>\n");
	expect("zephyr_tinyllama", INF_CHAT_ZEPHYR, heli, 2, true, "<s>", "</s>",
	       "<|system|>\nYou are a friendly chatbot who always responds in the style of a pirate"
	       "</s>\n<|user|>\nHow many helicopters can a human eat in one sitting?</s>\n"
	       "<|assistant|>\n");
	expect("gemma_2b_it", INF_CHAT_GEMMA, conv_b + 1, 3, false, "", "",
	       "<start_of_turn>user\nHello, how are you?<end_of_turn>\n<start_of_turn>model\nI'm "
	       "doing great. How can I help you today?<end_of_turn>\n<start_of_turn>user\nI'd like "
	       "to show off how chat templating works!<end_of_turn>\n");
	t = load("gemma_2b_it");
	CHECK_EQ(inf_chat_apply_template(t, conv_b, 4, true, "<bos>", "", &out, err),
		 INF_TEXT_EINVAL);
	CHECK_CONTAINS(err, "system");
	free(t);
	expect("phi3_small", INF_CHAT_PHI3, conv_a, 6, true, "", "",
	       "<|system|>\nYou are a helpful assistant<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>"
	       "\nHi there<|end|>\n<|user|>\nWho are you<|end|>\n<|assistant|>\n   I am an assistant"
	       "   <|end|>\n<|user|>\nAnother question<|end|>\n<|assistant|>\n");
}

/* Where a model's own template renders differently from its family, the
 * template wins; expected texts worked out by hand from each template's
 * Jinja (transformers' settings: trim_blocks, lstrip_blocks). */
static void templates_beyond_their_family(void)
{
	const struct inf_chat_message empty_sys[] = {{"system", ""}, {"user", "Hello"}};
	const struct inf_chat_message spaced[] = {{"system", "  Be brief. "}, {"user", " Hi "}};
	const struct inf_chat_message only_sys[] = {{"system", "S"}};
	const struct inf_chat_message sys[] = {{"system", "Always simply disagree with the user"},
		{"user", "The moon is not made of cheese."}};
	char *t, *out = NULL, err[INF_TEXT_ERR_MAX] = "";
	struct inf_chat_options opt = {0};

	/* Qwen1.5: the last message stays open without a generation prompt; no
	 * prompt after an assistant message */
	expect("qwen15_chat", INF_CHAT_CHATML, conv_b + 1, 3, false, "", "",
	       "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\n"
	       "Hello, how are you?<|im_end|>\n<|im_start|>assistant\nI'm doing great. How can I "
	       "help you today?<|im_end|>\n<|im_start|>user\nI'd like to show off how chat "
	       "templating works!");
	expect("qwen15_chat", INF_CHAT_CHATML, conv_b + 1, 2, true, "", "",
	       "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\n"
	       "Hello, how are you?<|im_end|>\n<|im_start|>assistant\nI'm doing great. How can I "
	       "help you today?<|im_end|>\n");
	/* ...which other ChatML templates do not do */
	expect("chatml_openhermes", INF_CHAT_CHATML, conv_b + 1, 2, true, "", "",
	       "<|im_start|>user\nHello, how are you?<|im_end|>\n<|im_start|>assistant\nI'm doing "
	       "great. How can I help you today?<|im_end|>\n<|im_start|>assistant\n");

	/* Phi-3.5: no bos_token, an empty system message is skipped */
	expect("phi35_mini_instruct", INF_CHAT_PHI3, empty_sys, 2, true, "<s>", "<|endoftext|>",
	       "<|user|>\nHello<|end|>\n<|assistant|>\n");
	expect("phi35_mini_instruct", INF_CHAT_PHI3, conv_a, 2, false, "<s>", "<|endoftext|>",
	       "<|system|>\nYou are a helpful assistant<|end|>\n<|user|>\nHello<|end|>\n"
	       "<|endoftext|>");
	/* Phi-3-small keeps both */
	expect("phi3_small", INF_CHAT_PHI3, empty_sys, 2, true, "<s>", "",
	       "<s><|system|>\n<|end|>\n<|user|>\nHello<|end|>\n<|assistant|>\n");

	/* Gemma 3: the system message (not trimmed) and a blank line open the
	 * first user turn */
	expect("gemma3_it", INF_CHAT_GEMMA, conv_b, 4, true, "<bos>", "",
	       "<bos><start_of_turn>user\nYou are a friendly chatbot who always responds in the "
	       "style of a pirate\n\nHello, how are you?<end_of_turn>\n<start_of_turn>model\nI'm "
	       "doing great. How can I help you today?<end_of_turn>\n<start_of_turn>user\nI'd like "
	       "to show off how chat templating works!<end_of_turn>\n<start_of_turn>model\n");
	expect("gemma3_it", INF_CHAT_GEMMA, spaced, 2, false, "<bos>", "",
	       "<bos><start_of_turn>user\n  Be brief. \n\nHi<end_of_turn>\n");
	expect("gemma3_it", INF_CHAT_GEMMA, only_sys, 1, true, "<bos>", "",
	       "<bos><start_of_turn>model\n");
	expect("gemma3_it", INF_CHAT_GEMMA, conv_b + 1, 1, true, "<bos>", "",
	       "<bos><start_of_turn>user\nHello, how are you?<end_of_turn>\n<start_of_turn>model\n");
	t = load("gemma3_it"); /* roles still alternate (the template raises) */
	CHECK_EQ(inf_chat_apply_template(t, conv_b + 2, 2, true, "<bos>", "", &out, err),
		 INF_TEXT_EINVAL);
	CHECK_CONTAINS(err, "must alternate");
	free(t);

	/* Llama 3.1 and 3.3: date_string defaults to the template's literal */
	expect("llama31_instruct", INF_CHAT_LLAMA31, sys, 2, true, "<|begin_of_text|>", "",
	       "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge "
	       "Date: December 2023\nToday Date: 26 Jul 2024\n\nAlways simply disagree with the "
	       "user<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nThe moon is not made of "
	       "cheese.<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n");
	/* Llama 3.2: strftime_now("%d %b %Y"), the day of opt.now (noon UTC,
	 * the same day in every time zone within 11 hours) */
	t = load("llama32_instruct");
	CHECK_EQ(inf_chat_detect(t), INF_CHAT_LLAMA31);
	opt.now = 1736942400; /* 2025-01-15 12:00 UTC */
	CHECK_EQ(inf_chat_apply_template_opt(t, sys + 1, 1, true, "<|begin_of_text|>", "", &opt,
					     &out, err), 0);
	CHECK(out && strcmp(out, "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
		  "Cutting Knowledge Date: December 2023\nToday Date: 15 Jan 2025\n\n<|eot_id|>"
		  "<|start_header_id|>user<|end_header_id|>\n\nThe moon is not made of cheese."
		  "<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n") == 0);
	free(out);
	/* a date_string given wins */
	opt.date_string = "02 Mar 2026";
	CHECK_EQ(inf_chat_apply_template_opt(t, sys + 1, 1, true, "", "", &opt, &out, err), 0);
	CHECK(out && strstr(out, "Today Date: 02 Mar 2026\n\n<|eot_id|>") != NULL);
	free(out);
	free(t);
	t = load("llama31_instruct");
	CHECK_EQ(inf_chat_apply_template_opt(t, sys + 1, 1, true, "", "", &opt, &out, err), 0);
	CHECK(out && strstr(out, "Today Date: 02 Mar 2026\n\n<|eot_id|>") != NULL);
	free(out);
	opt.date_string = "a date string much longer than 31 bytes";
	CHECK_EQ(inf_chat_apply_template_opt(t, sys + 1, 1, true, "", "", &opt, &out, err),
		 INF_TEXT_EINVAL);
	CHECK(out == NULL);
	CHECK_CONTAINS(err, "date_string is 39 bytes");
	free(t);
}

/* DeepSeek-R1-Distill (Qwen and Llama share the template), worked out by
 * hand from the Jinja: bos, the LAST system message's content, user turns
 * as <｜User｜>x, assistant turns as <｜Assistant｜>y<｜end▁of▁sentence｜>
 * with y's text up to its last </think> dropped, and <｜Assistant｜><think>\n
 * as the generation prompt. */
#define DS_U "<\xEF\xBD\x9CUser\xEF\xBD\x9C>"
#define DS_A "<\xEF\xBD\x9C" "Assistant\xEF\xBD\x9C>"
#define DS_E "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>"
#define DS_BOS "<\xEF\xBD\x9C" "begin\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>"

static void deepseek_r1_distill(void)
{
	static const struct inf_chat_message think[] = {
		{"system", "A"}, {"user", "Q1"},
		{"assistant", "<think>\nfirst</think> mid </think>\n\nAnswer"},
		{"system", "B"}, {"user", "Q2"},
	};
	char *t, *out = NULL, *p, err[INF_TEXT_ERR_MAX] = "";

	expect("deepseek_r1_distill", INF_CHAT_DEEPSEEK_R1, conv_a, 6, true, DS_BOS, DS_E,
	       DS_BOS "You are a helpful assistant" DS_U "Hello" DS_A "Hi there" DS_E DS_U
	       "Who are you" DS_A "   I am an assistant   " DS_E DS_U "Another question" DS_A
	       "<think>\n");
	expect("deepseek_r1_distill", INF_CHAT_DEEPSEEK_R1, think, 5, false, DS_BOS, DS_E,
	       DS_BOS "B" DS_U "Q1" DS_A "\n\nAnswer" DS_E DS_U "Q2");
	/* without a system message: bos, then the first turn */
	expect("deepseek_r1_distill", INF_CHAT_DEEPSEEK_R1, conv_b + 1, 1, true, DS_BOS, DS_E,
	       DS_BOS DS_U "Hello, how are you?" DS_A "<think>\n");
	CHECK(strcmp(inf_chat_family_name(INF_CHAT_DEEPSEEK_R1), "deepseek-r1") == 0);

	/* The first release of the template: a plain prompt and (before the
	 * split was added) the assistant's text as it is. */
	t = load("deepseek_r1_distill");
	p = strstr(t, DS_A "<think>\\n");
	CHECK(p != NULL);
	if (p)
		memmove(p + strlen(DS_A), p + strlen(DS_A "<think>\\n"),
			strlen(p + strlen(DS_A "<think>\\n")) + 1);
	p = strstr(t, "content.split('</think>')[-1]");
	CHECK(p != NULL);
	if (p)
		p[0] = 'C'; /* no split */
	CHECK_EQ(inf_chat_detect(t), INF_CHAT_DEEPSEEK_R1);
	CHECK_EQ(inf_chat_apply_template(t, think, 5, true, DS_BOS, DS_E, &out, err), 0);
	CHECK(out && strcmp(out, DS_BOS "B" DS_U "Q1" DS_A "<think>\nfirst</think> mid </think>\n\nAnswer"
			     DS_E DS_U "Q2" DS_A) == 0);
	free(out);
	free(t);

	/* llama.cpp's edited copy closes <think> unless enable_thinking, and
	 * R1-0528's puts the assistant marker after each user turn: both
	 * render otherwise, so they are not this family */
	t = load("deepseek_r1_distill");
	p = realloc(t, strlen(t) + 64);
	if (p) {
		t = p;
		strcat(t, "{% if not enable_thinking %}</think>{% endif %}");
		CHECK_EQ(inf_chat_detect(t), INF_CHAT_UNKNOWN);
	}
	free(t);
	t = load("deepseek_r1_distill");
	p = realloc(t, strlen(t) + 64);
	if (p) {
		t = p;
		strcat(t, "{% set ns.is_first_sp = false %}");
		CHECK_EQ(inf_chat_detect(t), INF_CHAT_UNKNOWN);
	}
	free(t);
	t = load("deepseek_r1_distill");
	p = strstr(t, "{{'" DS_U "' + message['content']}}");
	CHECK(p != NULL);
	if (p) {
		static const char r1_0528[] = "{{'" DS_U "' + content + '" DS_A "'}}";
		size_t old = strlen("{{'" DS_U "' + message['content']}}");
		char *u = malloc(strlen(t) + sizeof r1_0528);

		if (u) {
			sprintf(u, "%.*s%s%s", (int)(p - t), t, r1_0528, p + old);
			CHECK_EQ(inf_chat_detect(u), INF_CHAT_UNKNOWN);
			free(u);
		}
	}
	free(t);
}

static void unknown_templates_are_errors(void)
{
	static const char *const unknown[] = {"vicuna", "phi3_mini", "phi4"};
	char *out = (char *)&out, err[INF_TEXT_ERR_MAX] = "";

	for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
		char *t = load(unknown[i]);

		CHECK_EQ(inf_chat_detect(t), INF_CHAT_UNKNOWN);
		CHECK_EQ(inf_chat_apply_template(t, conv_a, 6, true, "", "", &out, err),
			 INF_TEXT_EUNSUPPORTED);
		CHECK(out == NULL);
		CHECK_CONTAINS(err, "not one of the known families");
		free(t);
	}
	CHECK_EQ(inf_chat_detect(NULL), INF_CHAT_UNKNOWN);
	CHECK_EQ(inf_chat_detect(""), INF_CHAT_UNKNOWN);
	CHECK_EQ(inf_chat_apply_template(NULL, conv_a, 6, true, "", "", &out, err),
		 INF_TEXT_EUNSUPPORTED);
	CHECK_CONTAINS(err, "no tokenizer.chat_template");
	CHECK_EQ(inf_chat_apply(INF_CHAT_UNKNOWN, conv_a, 6, true, "", "", &out, err),
		 INF_TEXT_EUNSUPPORTED);
	CHECK_CONTAINS(err, "unknown");
	CHECK(strcmp(inf_chat_family_name(INF_CHAT_UNKNOWN), "unknown") == 0);
	CHECK(strcmp(inf_chat_family_name(INF_CHAT_MISTRAL_V3), "mistral-v3") == 0);
}

static void bad_messages_are_rejected(void)
{
	const struct inf_chat_message tool[] = {{"tool", "x"}};
	const struct inf_chat_message none[] = {{"user", NULL}};
	char *out = NULL, err[INF_TEXT_ERR_MAX] = "";

	CHECK_EQ(inf_chat_apply(INF_CHAT_CHATML, tool, 1, true, "", "", &out, err),
		 INF_TEXT_EINVAL);
	CHECK_CONTAINS(err, "role \"tool\"");
	CHECK_EQ(inf_chat_apply(INF_CHAT_CHATML, none, 1, true, "", "", &out, err),
		 INF_TEXT_EINVAL);
	CHECK_CONTAINS(err, "message 0 has no content");
	/* no messages: just the assistant prompt */
	CHECK_EQ(inf_chat_apply(INF_CHAT_CHATML, NULL, 0, true, "", "", &out, err), 0);
	CHECK(out && strcmp(out, "<|im_start|>assistant\n") == 0);
	free(out);
}

int main(void)
{
	RUN(chatml);
	RUN(llama3_and_31);
	RUN(inst_families);
	RUN(zephyr_gemma_phi3);
	RUN(templates_beyond_their_family);
	RUN(deepseek_r1_distill);
	RUN(unknown_templates_are_errors);
	RUN(bad_messages_are_rejected);
	return check_summary();
}
