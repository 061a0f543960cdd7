/*
 * GPU passthrough: /dev/dxg, where libcuda.so.1 is, whether WSL's copies are
 * the identical regular files that make ldconfig warn, and (on this system
 * only) whether the one found loads.
 *
 * Search order: /usr/lib/wsl/lib (where WSL mounts the Windows driver's
 * libraries), then the directories of /etc/ld.so.conf and the files it
 * includes (the ld.so.conf.d files, globbed, sorted, as ldconfig reads them), then
 * ldconfig's built-in directories.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define WSL_LIB_DIR "/usr/lib/wsl/lib"
#define MAX_DIRS 64

struct dirs {
	char d[MAX_DIRS][WSL_PATH_MAX - 32];   /* room for "/libcuda.so.1" */
	int n;
};

static void add_dir(struct dirs *ds, const char *dir, size_t len)
{
	while (len > 1 && dir[len - 1] == '/')
		len--;
	if (!len || dir[0] != '/' || len >= sizeof ds->d[0] || ds->n >= MAX_DIRS)
		return;
	for (int i = 0; i < ds->n; i++)
		if (strlen(ds->d[i]) == len && !strncmp(ds->d[i], dir, len))
			return;
	snprintf(ds->d[ds->n++], sizeof ds->d[0], "%.*s", (int)len, dir);
}

/* One ld.so.conf-style file (a path inside the root); depth bounds includes. */
static void read_ld_conf(const char *root, const char *path, struct dirs *ds, int depth,
			 struct wsl_platform *p)
{
	char *text = NULL;
	if (depth > 3 || wsl_read_alloc(root, path, 1 << 16, &text) < 0)
		return;
	char *save = NULL;
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		l[strcspn(l, "#")] = 0;
		l += strspn(l, " \t\r");
		if (!*l)
			continue;
		if (!strncmp(l, "include", 7) && (l[7] == ' ' || l[7] == '\t')) {
			char *pat = l + 8 + strspn(l + 8, " \t");
			pat[strcspn(pat, " \t\r")] = 0;
			char rel[WSL_PATH_MAX], full[WSL_PATH_MAX + 64], copy[WSL_PATH_MAX];
			if (*pat != '/') {   /* relative to the including file's directory */
				snprintf(copy, sizeof copy, "%s", path);
				snprintf(rel, sizeof rel, "%s/%s", dirname(copy), pat);
			} else {
				snprintf(rel, sizeof rel, "%s", pat);
			}
			glob_t g;
			if (wsl_rooted(full, sizeof full, root, rel) || glob(full, 0, NULL, &g))
				continue;
			size_t rl = strlen(full) - strlen(rel);
			for (size_t i = 0; i < g.gl_pathc; i++)
				read_ld_conf(root, g.gl_pathv[i] + rl, ds, depth + 1, p);
			globfree(&g);
			continue;
		}
		if (!strncmp(l, "hwcap", 5) && (l[5] == ' ' || l[5] == '\t'))
			continue;
		/* Directories separated by blanks, ':' or ',' (ldconfig's own rule). */
		for (char *s2 = NULL, *t = strtok_r(l, " \t\r:,", &s2); t; t = strtok_r(NULL, " \t\r:,", &s2))
			add_dir(ds, t, strlen(t));
	}
	free(text);
}

static int file_type(const char *root, const char *path, struct stat *st)
{
	char full[WSL_PATH_MAX + 64];
	if (wsl_rooted(full, sizeof full, root, path) || lstat(full, st))
		return -1;
	return 0;
}

/* 1 identical, 0 different, -1 unreadable. */
static int same_content(const char *root, const char *a, const char *b)
{
	char fa[WSL_PATH_MAX + 64], fb[WSL_PATH_MAX + 64];
	static char ba[65536], bb[65536];
	if (wsl_rooted(fa, sizeof fa, root, a) || wsl_rooted(fb, sizeof fb, root, b))
		return -1;
	FILE *x = fopen(fa, "rb"), *y = fopen(fb, "rb");
	int rc = x && y ? 1 : -1;
	while (rc == 1) {
		size_t na = fread(ba, 1, sizeof ba, x), nb = fread(bb, 1, sizeof bb, y);
		if (na != nb || memcmp(ba, bb, na))
			rc = 0;
		else if (na == 0)
			break;
	}
	if (x)
		fclose(x);
	if (y)
		fclose(y);
	return rc;
}

static void check_links(const struct wsl_detect_opts *o, struct wsl_platform *p)
{
	static const char *const names[] = { WSL_LIB_DIR "/libcuda.so", WSL_LIB_DIR "/libcuda.so.1",
					     WSL_LIB_DIR "/libcuda.so.1.1" };
	struct stat st[3];
	bool have[3], regular = false, link = false;
	for (int i = 0; i < 3; i++) {
		have[i] = file_type(o->root, names[i], &st[i]) == 0;
		regular |= have[i] && S_ISREG(st[i].st_mode) && i < 2;
		link |= have[i] && S_ISLNK(st[i].st_mode) && i < 2;
	}
	if (!have[1]) {
		p->links = WSL_LINKS_NONE;
		return;
	}
	if (!regular) {
		p->links = link ? WSL_LINKS_SYMLINKS : WSL_LINKS_NONE;
		return;
	}
	if (!(o->flags & WSL_DETECT_THOROUGH)) {
		p->links = WSL_LINKS_COPIES_NOT_COMPARED;
		return;
	}
	p->links = WSL_LINKS_IDENTICAL_COPIES;
	for (int i = 0; i < 3; i += 2) {
		if (!have[i] || !S_ISREG(st[i].st_mode))
			continue;
		int same = st[i].st_size == st[1].st_size ? same_content(o->root, names[i], names[1]) : 0;
		if (same < 0)
			wsl_note(p, "cannot compare %s with %s", names[i], names[1]);
		if (same != 1)
			p->links = WSL_LINKS_DIFFERENT_FILES;
	}
}

void wsl_detect_gpu(const struct wsl_detect_opts *o, struct wsl_platform *p)
{
	static const char *const builtin[] = { "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
					       "/lib64", "/usr/lib64", "/lib", "/usr/lib" };
	struct dirs *ds = calloc(1, sizeof *ds);
	struct stat st;

	p->dxg = file_type(o->root, "/dev/dxg", &st) == 0;
	if (!ds) {
		wsl_note(p, "out of memory searching for libcuda.so.1");
		return;
	}
	add_dir(ds, WSL_LIB_DIR, strlen(WSL_LIB_DIR));
	read_ld_conf(o->root, "/etc/ld.so.conf", ds, 0, p);
	for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
		add_dir(ds, builtin[i], strlen(builtin[i]));
	p->n_search_dirs = ds->n;
	for (int i = 0; i < ds->n && p->n_libcuda < WSL_MAX_LIBCUDA; i++) {
		char path[WSL_PATH_MAX], full[WSL_PATH_MAX + 64];
		snprintf(path, sizeof path, "%s/libcuda.so.1", ds->d[i]);
		if (wsl_rooted(full, sizeof full, o->root, path) || stat(full, &st) || !S_ISREG(st.st_mode))
			continue;
		snprintf(p->libcuda[p->n_libcuda++], WSL_PATH_MAX, "%s", path);
	}
	free(ds);
	check_links(o, p);

	p->dlopen = WSL_DLOPEN_NOT_TRIED;
	if (!p->n_libcuda) {
		snprintf(p->dlopen_detail, sizeof p->dlopen_detail, "not tried: no libcuda.so.1");
	} else if (!p->live) {
		snprintf(p->dlopen_detail, sizeof p->dlopen_detail, "not tried: fixture root");
	} else if (!(o->flags & WSL_DETECT_DLOPEN)) {
		snprintf(p->dlopen_detail, sizeof p->dlopen_detail, "not tried");
	} else {
		dlerror();
		void *h = dlopen(p->libcuda[0], RTLD_NOW | RTLD_LOCAL);
		if (h) {
			p->dlopen = WSL_DLOPEN_OK;
			snprintf(p->dlopen_detail, sizeof p->dlopen_detail, "dlopen(\"%s\") works",
				 p->libcuda[0]);
			dlclose(h);
		} else {
			const char *e = dlerror();
			p->dlopen = WSL_DLOPEN_FAILED;
			snprintf(p->dlopen_detail, sizeof p->dlopen_detail, "dlopen(\"%s\") failed: %s",
				 p->libcuda[0], e ? e : "(no dlerror)");
		}
	}
}
