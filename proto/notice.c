/*
 * notice.c — the first-run notice marker (see notice.h). Owns the marker
 * file only: it creates it at most once, empty, and never removes it
 * (`clear` leaves it alone). Must never print: callers show the text.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "notice.h"
#include "paths.h"

/* Whether this caller shows the notice; creates the marker race-free. */
enum notice_take
notice_take(const struct paths *p, int nocreate)
{
	int	fd, saved;

	if (notice_shown(p))
		return NOTICE_NONE;
	if (nocreate) {
		errno = EPERM;
		return NOTICE_SHOW_UNMARKED;
	}
	if (paths_check_dir(p->dir, 1, NULL, 0) == -1)
		return NOTICE_SHOW_UNMARKED;
	fd = open(p->notice, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC | O_NONBLOCK, 0600);
	if (fd == -1) {
		/* Someone else created it first (a dangling link counts). */
		if (errno == EEXIST)
			return NOTICE_NONE;
		return NOTICE_SHOW_UNMARKED;
	}
	saved = errno;
	(void)close(fd);
	errno = saved;
	return NOTICE_SHOW;
}

/* 1 if the marker exists in any form (upstream only tests existence). */
int
notice_shown(const struct paths *p)
{
	struct stat	sb;

	return lstat(p->notice, &sb) == 0;
}
