/* identity — device_id and UUIDs. */
#ifndef PROTO_IDENTITY_H
#define PROTO_IDENTITY_H

#define UUID_STR_LEN	37	/* 36 chars + NUL */
#define UUID_NIL	"00000000-0000-0000-0000-000000000000"

/* A fresh lowercase hyphenated UUIDv4. */
void	identity_uuid(char out[UUID_STR_LEN]);
/* 1 if s[0..n) is a lowercase/uppercase hyphenated UUID. */
int	identity_uuid_valid(const char *s, unsigned long n);
/*
 * Read <path>; when missing and create is set, create it race-free (temp
 * file + link, the first writer wins and every racer reads the winner).
 * Unparseable → UUID_NIL (file untouched). Returns 0, or -1 on I/O error
 * (out is then UUID_NIL).
 */
int	identity_device_id(const char *path, int create, char out[UUID_STR_LEN]);
#endif
