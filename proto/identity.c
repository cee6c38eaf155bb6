/*
 * identity.c — UUIDs and the shared device_id file. Owns the
 * creation protocol (temp file + link: exactly one value ever wins). It
 * must never rewrite or truncate an existing device_id, even a corrupt one.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <uuid/uuid.h>

#include "buf.h"
#include "fsio.h"
#include "identity.h"
#include "paths.h"
#include "port.h"

#define ID_FILE_MAX	4096	/* a larger device_id is not a UUID */
#define ID_ATTEMPTS	5	/* read / create rounds before giving up */
#define ID_EMPTY_RETRY	5	/* re-reads of an empty file (writer window) */
#define ID_EMPTY_WAIT_NS (10 * 1000 * 1000)	/* 10 ms between them */

/* A fresh lowercase hyphenated UUIDv4. */
void
identity_uuid(char out[UUID_STR_LEN])
{
	uuid_t	u;

	uuid_generate_random(u);
	uuid_unparse_lower(u, out);
}

/* 1 if s[0..n) is a lowercase/uppercase hyphenated UUID. */
int
identity_uuid_valid(const char *s, unsigned long n)
{
	unsigned long	i;

	if (n != UUID_STR_LEN - 1)
		return 0;
	for (i = 0; i < n; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (!isxdigit((unsigned char)s[i]))
			return 0;
	}
	return 1;
}

/*
 * Normalise the forms upstream's parser accepts (hyphenated, 32 hex
 * digits, {braced}, urn:uuid:) to lowercase hyphenated. 0 or -1.
 */
static int
normalise(const char *s, size_t n, char out[UUID_STR_LEN])
{
	char	hex[32];
	size_t	i, h = 0;

	if (n == 45 && strncasecmp(s, "urn:uuid:", 9) == 0) {
		s += 9;
		n -= 9;
	} else if (n == 38 && s[0] == '{' && s[37] == '}') {
		s++;
		n -= 2;
	}
	if (n == 36) {
		if (!identity_uuid_valid(s, n))
			return -1;
	} else if (n != 32)
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] == '-')
			continue;
		if (!isxdigit((unsigned char)s[i]))
			return -1;
		hex[h++] = (char)tolower((unsigned char)s[i]);
	}
	snprintf(out, UUID_STR_LEN, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8,
	    hex + 12, hex + 16, hex + 20);
	return 0;
}

/* Read path: 0 with out set (UUID_NIL if unparseable), or -1 with errno. */
static int
read_id(const char *path, char out[UUID_STR_LEN])
{
	struct buf	 b = { NULL, 0, 0 };
	const char	*s;
	size_t		 n;

	memcpy(out, UUID_NIL, UUID_STR_LEN);
	/* Never blocks on a FIFO planted at path (atc_open must not hang). */
	if (fsio_read(AT_FDCWD, path, FSIO_USER, ID_FILE_MAX, &b) == -1)
		return errno == EFBIG ? 0 : -1;	/* too big: unparseable */
	s = b.data != NULL ? b.data : "";
	n = b.len;
	while (n > 0 && isspace((unsigned char)*s)) {
		s++;
		n--;
	}
	while (n > 0 && isspace((unsigned char)s[n - 1]))
		n--;
	if (n > 0)
		(void)normalise(s, n, out);
	buf_free(&b);
	if (n == 0) {
		errno = ENODATA;	/* empty: maybe a writer mid-way */
		return -1;
	}
	return 0;
}

/*
 * Publish a new id at path unless one exists. 0 when ours won, 1 when the
 * path already existed, -1 on error.
 */
static int
create_id(const char *path, const char id[UUID_STR_LEN])
{
	char	tmp[PATHS_MAX], rnd[UUID_STR_LEN], dir[PATHS_MAX];
	char	*slash;
	int	fd, n, r, saved;

	/* The directory may be missing on first run. */
	n = snprintf(dir, sizeof(dir), "%s", path);
	if (n < 0 || (size_t)n >= sizeof(dir)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (paths_mkdirs(dir) == -1)
			return -1;
	}

	identity_uuid(rnd);
	n = snprintf(tmp, sizeof(tmp), "%s.tmp-%ld-%.8s", path,
	    (long)getpid(), rnd);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1)
		return -1;
	if (fsio_write_all(fd, id, UUID_STR_LEN - 1) == -1 || fsync(fd) == -1) {
		saved = errno;
		close(fd);
		unlink(tmp);
		errno = saved;
		return -1;
	}
	if (close(fd) == -1) {
		saved = errno;
		unlink(tmp);
		errno = saved;
		return -1;
	}

	/* link(2) fails with EEXIST if anyone got there first. */
	r = link(tmp, path);
	if (r == -1 && (errno == EPERM || errno == ENOTSUP ||
	    errno == EOPNOTSUPP || errno == EMLINK || errno == ENOSYS)) {
		/* No hard links here; rename without replacing instead. */
		saved = errno;
		if ((r = port_rename_noreplace(tmp, path)) == -1 &&
		    errno == ENOSYS)
			errno = saved;
	}
	saved = errno;
	unlink(tmp);	/* after a rename it is gone already */
	if (r == 0) {
		if (slash != NULL) {
			*slash = '\0';
			if ((fd = open(slash == dir ? "/" : dir,
			    O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
				(void)fsync(fd);	/* best effort */
				close(fd);
			}
		}
		return 0;
	}
	if (saved == EEXIST)
		return 1;
	errno = saved;
	return -1;
}

/*
 * Read <path>; when missing and create is set, create it race-free. Every
 * racer ends up with the winner's value. Unparseable → UUID_NIL, the file
 * is left alone. Returns 0, or -1 on I/O error (out is then UUID_NIL).
 */
int
identity_device_id(const char *path, int create, char out[UUID_STR_LEN])
{
	struct timespec	 ts = { 0, ID_EMPTY_WAIT_NS };
	char		 id[UUID_STR_LEN];
	int		 attempt, empties = 0, r;

	memcpy(out, UUID_NIL, UUID_STR_LEN);
	for (attempt = 0; attempt < ID_ATTEMPTS; attempt++) {
		if (read_id(path, out) == 0)
			return 0;
		if (errno == ENODATA) {
			/*
			 * Empty: upstream writes the file in place, so this
			 * may be another writer's window. Look again briefly;
			 * after that it is just unparseable.
			 */
			if (++empties > ID_EMPTY_RETRY)
				return 0;
			nanosleep(&ts, NULL);
			attempt--;
			continue;
		}
		if (errno != ENOENT)
			return -1;
		if (!create)
			return 0;
		identity_uuid(id);
		if ((r = create_id(path, id)) == -1) {
			memcpy(out, UUID_NIL, UUID_STR_LEN);
			return -1;
		}
		if (r == 0) {
			memcpy(out, id, UUID_STR_LEN);
			return 0;
		}
		/* Someone else won: read theirs (next round). */
	}
	memcpy(out, UUID_NIL, UUID_STR_LEN);
	errno = EAGAIN;
	return -1;
}
