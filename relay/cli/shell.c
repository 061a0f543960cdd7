/* Running other programs for the CLI: systemctl --user's environment and
 * short read-only shell queries. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* `systemctl --user` finds the user manager through XDG_RUNTIME_DIR, which a
 * process started by wsl.exe --exec may lack; pam_systemd would have set it to
 * /run/user/UID, so that is what it gets when the directory is there and ours. */
void relay_ensure_user_bus_env(void)
{
	char dir[64];
	struct stat st;
	if (getenv("XDG_RUNTIME_DIR"))
		return;
	snprintf(dir, sizeof dir, "/run/user/%u", (unsigned)getuid());
	if (!stat(dir, &st) && S_ISDIR(st.st_mode) && st.st_uid == getuid())
		setenv("XDG_RUNTIME_DIR", dir, 0);
}

void relay_first_line_of(const char *cmd, char *out, size_t len)
{
	FILE *p = popen(cmd, "r");
	*out = 0;
	if (p) {
		if (!fgets(out, (int)len, p))
			*out = 0;
		pclose(p);
	}
	out[strcspn(out, "\n")] = 0;
}
