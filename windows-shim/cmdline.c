/*
 * CreateProcessW command lines. Windows passes one string; the child splits
 * it (MSVCRT's rules, which CommandLineToArgvW shares for arguments after the
 * first): 2n backslashes before a quote are n backslashes and the quote
 * toggles quoting; 2n+1 backslashes before a quote are n backslashes and a
 * literal quote; other backslashes are literal. argv[0] is split differently
 * (quotes toggle, backslashes are literal), so it may not hold a quote.
 */
#include <errno.h>
#include <string.h>

#include "shim.h"

struct out {
	char *buf;
	size_t cap, n;
	bool full;
};

static void put(struct out *o, char c, size_t times)
{
	while (times--) {
		if (o->n + 1 >= o->cap) {
			o->full = true;
			return;
		}
		o->buf[o->n++] = c;
	}
}

static void quote_arg(struct out *o, const char *arg)
{
	if (*arg && !strpbrk(arg, " \t\n\v\"")) {
		for (const char *p = arg; *p; p++)
			put(o, *p, 1);
		return;
	}
	put(o, '"', 1);
	for (const char *p = arg;; p++) {
		size_t slashes = 0;
		while (*p == '\\') {
			slashes++;
			p++;
		}
		if (!*p) {
			put(o, '\\', 2 * slashes);   /* before the closing quote */
			break;
		}
		if (*p == '"') {
			put(o, '\\', 2 * slashes + 1);
			put(o, '"', 1);
		} else {
			put(o, '\\', slashes);
			put(o, *p, 1);
		}
	}
	put(o, '"', 1);
}

int shim_cmdline_build(char *out, size_t cap, const char *const *argv, int argc)
{
	struct out o = { out, cap, 0, false };

	if (!cap)
		return -ENOSPC;
	out[0] = 0;
	if (argc < 1 || strchr(argv[0], '"'))
		return -EINVAL;
	if (!*argv[0] || strpbrk(argv[0], " \t")) {
		put(&o, '"', 1);
		for (const char *p = argv[0]; *p; p++)
			put(&o, *p, 1);
		put(&o, '"', 1);
	} else {
		for (const char *p = argv[0]; *p; p++)
			put(&o, *p, 1);
	}
	for (int i = 1; i < argc; i++) {
		put(&o, ' ', 1);
		quote_arg(&o, argv[i]);
	}
	if (o.full) {
		out[0] = 0;
		return -ENOSPC;
	}
	out[o.n] = 0;
	return (int)o.n;
}
