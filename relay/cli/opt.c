/*
 * opt.c: what every command of the CLI does with its command line the same
 * way: the one-line usage error (and exit status 2), and option numbers.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Where each command's usage error sends the reader; a command not listed
 * here points at tether help. */
static const struct {
	const char *cmd;
	const char *hint;
} hints[] = {
	{ "doctor", "usage: tether doctor [--json] [--root DIR] [--runtime-dir DIR]" },
	{ "hook", "see docs/hooks.md" },
	{ "model", "tether help; docs/inference.md" },
	{ "tokenize", "tether help; docs/inference.md" },
	{ "generate", "tether help; docs/inference.md" },
	{ "logits", "tether help; docs/inference.md" },
	{ "models", "tether help; docs/inference.md" },
};

int cli_usage_error(const char *cmd, const char *fmt, const char *arg)
{
	const char *hint = cmd ? "see tether help" : "see tether --help";
	for (size_t i = 0; cmd && i < sizeof hints / sizeof hints[0]; i++)
		if (!strcmp(cmd, hints[i].cmd))
			hint = hints[i].hint;
	fprintf(stderr, "tether%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (%s)\n", hint);
	return EXIT_USAGE;
}

bool cli_parse_long(const char *text, long min, long max, long *out)
{
	char *end;
	if (!text)
		return false;
	errno = 0;
	long n = strtol(text, &end, 10);
	if (errno || end == text || *end || n < min || n > max)
		return false;
	*out = n;
	return true;
}

int cli_option_long(const char *cmd, const char *option, const char *text, long min, long max,
		    long *out)
{
	if (cli_parse_long(text, min, max, out))
		return 0;
	fprintf(stderr, "tether %s: %s must be an integer from %ld to %ld, got '%s'\n", cmd, option,
		min, max, text ? text : "");
	return EXIT_USAGE;
}
