/*
 * settings.c — the agent's INI settings ($ATOMCODE_HOME/telemetryd.conf),
 * read with inih. A bad file never half-applies: it is parsed into a copy
 * and only a fully valid copy replaces the running settings.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include <ini.h>

#include "export.h"
#include "fsio.h"
#include "log.h"
#include "settings.h"

struct settings_parse {
	struct settings	*s;
	char		 err[200];
};

/* Defaults (README "Configuration"). */
void
settings_defaults(struct settings *s)
{
	memset(s, 0, sizeof *s);
	s->fsync = QUEUE_FSYNC_ROLL;
	s->roll_interval_ms = 2000;
	s->idle_exit_s = 600;
	s->stall_timeout_s = 10;
	s->upload_timeout_s = 10;
	s->upload_connect_timeout_s = 5;
	s->backoff_scale_pct = 100;
	s->max_retry_after_s = 86400;
	s->log_level = LOG_LVL_INFO;
}

static int
settings_uint(const char *v, unsigned min, unsigned max, unsigned *out)
{
	char			*end;
	unsigned long long	 n;

	errno = 0;
	if (*v == '\0' || *v == '-')
		return -1;
	n = strtoull(v, &end, 10);
	if (errno != 0 || *end != '\0' || n < min || n > max)
		return -1;
	*out = (unsigned)n;
	return 0;
}

/* Copy value into out without one pair of surrounding double quotes. */
static int
settings_str(const char *v, char *out, size_t outlen)
{
	size_t	l = strlen(v);

	if (l >= 2 && v[0] == '"' && v[l - 1] == '"') {
		v++;
		l -= 2;
	}
	if (l >= outlen || memchr(v, '"', l) != NULL)
		return -1;
	memcpy(out, v, l);
	out[l] = '\0';
	return 0;
}

static int
settings_bool(const char *v, int *out)
{
	if (strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 ||
	    strcmp(v, "on") == 0 || strcmp(v, "1") == 0)
		*out = 1;
	else if (strcmp(v, "false") == 0 || strcmp(v, "no") == 0 ||
	    strcmp(v, "off") == 0 || strcmp(v, "0") == 0)
		*out = 0;
	else
		return -1;
	return 0;
}

/* The whole-number settings: section, key, bounds, field. */
struct settings_u {
	const char	*section, *name;
	unsigned	 min, max;
	size_t		 off;	/* an unsigned in struct settings */
};
#define SU(sec, key, lo, hi, f)	{ sec, key, lo, hi, offsetof(struct settings, f) }
static const struct settings_u settings_uints[] = {
	SU("queue", "roll_interval_ms", 10, 3600000, roll_interval_ms),
	SU("agent", "idle_exit_s", 0, 7 * 86400, idle_exit_s),
	SU("agent", "stall_timeout_s", 1, 3600, stall_timeout_s),
	SU("upload", "timeout_s", 1, 600, upload_timeout_s),
	SU("upload", "connect_timeout_s", 1, 600, upload_connect_timeout_s),
	SU("upload", "backoff_scale_pct", 1, 1000, backoff_scale_pct),
	SU("upload", "max_retry_after_s", 1, 86400, max_retry_after_s),
};
#undef SU

/* The whole-number setting [section] name, or NULL. */
static const struct settings_u *
settings_uint_key(const char *section, const char *name)
{
	size_t	i;

	for (i = 0; i < sizeof settings_uints / sizeof settings_uints[0]; i++)
		if (strcmp(section, settings_uints[i].section) == 0 &&
		    strcmp(name, settings_uints[i].name) == 0)
			return &settings_uints[i];
	return NULL;
}

static int
settings_handler(void *arg, const char *section, const char *name,
    const char *value)
{
	struct settings_parse	*p = arg;
	struct settings		*s = p->s;
	const struct settings_u	*u;
	int			 l;

#define IS(sec, key) (strcmp(section, sec) == 0 && strcmp(name, key) == 0)
	if (IS("queue", "fsync")) {
		if (strcmp(value, "always") == 0)
			s->fsync = QUEUE_FSYNC_ALWAYS;
		else if (strcmp(value, "roll") == 0)
			s->fsync = QUEUE_FSYNC_ROLL;
		else if (strcmp(value, "never") == 0)
			s->fsync = QUEUE_FSYNC_NEVER;
		else
			goto bad;
	} else if ((u = settings_uint_key(section, name)) != NULL) {
		if (settings_uint(value, u->min, u->max, (unsigned *)(void *)
		    ((char *)s + u->off)))
			goto bad;
	} else if (IS("agent", "log_level")) {
		if ((l = log_level_parse(value)) == -1)
			goto bad;
		s->log_level = l;
	} else if (IS("upload", "allow_http")) {
		if (strcmp(value, "true") == 0)
			s->allow_http = 1;
		else if (strcmp(value, "false") == 0)
			s->allow_http = 0;
		else
			goto bad;
	} else if (IS("upload", "ca_file")) {
		if (strlen(value) >= sizeof s->ca_file)
			goto bad;
		memcpy(s->ca_file, value, strlen(value) + 1);
	} else if (IS("export", "otlp_endpoint")) {
		if (settings_str(value, s->otlp_endpoint,
		    sizeof s->otlp_endpoint))
			goto bad;
	} else if (IS("export", "otlp_headers")) {
		if (settings_str(value, s->otlp_headers,
		    sizeof s->otlp_headers))
			goto bad;
		if (export_check_headers(s->otlp_headers, p->err,
		    sizeof p->err) == -1)
			return 0;
	} else if (IS("export", "otlp_allow_http")) {
		if (settings_bool(value, &s->otlp_allow_http))
			goto bad;
	} else {
		if (p->err[0] == '\0')
			snprintf(p->err, sizeof p->err, "unknown key [%s] %s",
			    section, name);
		return 0;
	}
	return 1;
#undef IS
bad:
	if (p->err[0] == '\0')	/* the first error is the one reported */
		snprintf(p->err, sizeof p->err, "bad value for [%s] %s:"
		    " \"%.64s\"", section, name, value);
	return 0;
}

/*
 * inih reports the line of the first error but goes on parsing: parse the
 * lines up to that one again, so the text is the first error's too (the
 * handler's, or a syntax error inih found itself).
 */
static void
settings_first_error(const char *text, int line, struct settings_parse *p)
{
	struct settings	 scratch;
	const char	*e = text;
	char		*cut;
	int		 n;

	for (n = 0; n < line && e != NULL; n++)
		if ((e = strchr(e, '\n')) != NULL)
			e++;
	if (e == NULL || (cut = strndup(text, (size_t)(e - text))) == NULL)
		return;
	settings_defaults(&scratch);
	p->s = &scratch;
	p->err[0] = '\0';
	(void)ini_parse_string(cut, settings_handler, p);
	free(cut);
}

/* Load path over *s; all or nothing. */
int
settings_load(const char *path, struct settings *s, char *cause,
    size_t causelen)
{
	struct settings		copy = *s;
	struct settings_parse	p;
	FILE			*fp;
	char			*text;
	size_t			 len;
	ssize_t			 n;
	int			 line, fd;

	/* A FIFO or link planted at path: refused at once, never waited on. */
	if ((fd = fsio_open(AT_FDCWD, path, O_RDONLY, 0, FSIO_USER)) == -1 ||
	    (fp = fdopen(fd, "r")) == NULL) {
		if (errno == ENOENT)
			return 0;
		snprintf(cause, causelen, "%s: %s", path, errno == EINVAL ?
		    "not a regular file" : strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	p.s = &copy;
	p.err[0] = '\0';
	text = NULL;
	len = 0;
	n = getdelim(&text, &len, '\0', fp);
	if (n == -1 && ferror(fp)) {
		snprintf(cause, causelen, "%s: %s", path, strerror(errno));
		fclose(fp);
		free(text);
		return -1;
	}
	fclose(fp);
	line = ini_parse_string(n > 0 ? text : "", settings_handler, &p);
	if (line > 0)
		settings_first_error(text, line, &p);
	free(text);
	if (line != 0) {
		if (line < 0)
			snprintf(cause, causelen, "%s: cannot read", path);
		else
			snprintf(cause, causelen, "%s:%d: %s", path, line,
			    p.err[0] ? p.err : "syntax error");
		return -1;
	}
	if (copy.otlp_endpoint[0] != '\0' && export_check_endpoint(
	    copy.otlp_endpoint, copy.otlp_allow_http, p.err,
	    sizeof p.err) == -1) {
		snprintf(cause, causelen, "%s: [export] otlp_endpoint: %s", path,
		    p.err);
		return -1;
	}
	*s = copy;
	return 0;
}

/* Print effective settings in the file's own format. */
void
settings_print(const struct settings *s, FILE *fp)
{
	static const char *const levels[] = { "error", "warn", "info", "debug" };

	fprintf(fp, "[agent]\nidle_exit_s = %u\nstall_timeout_s = %u\n"
	    "log_level = %s\n\n", s->idle_exit_s, s->stall_timeout_s,
	    levels[s->log_level & 3]);
	fprintf(fp, "[queue]\nfsync = %s\nroll_interval_ms = %u\n\n",
	    s->fsync == QUEUE_FSYNC_ALWAYS ? "always" :
	    s->fsync == QUEUE_FSYNC_NEVER ? "never" : "roll",
	    s->roll_interval_ms);
	fprintf(fp, "[upload]\ntimeout_s = %u\nconnect_timeout_s = %u\n"
	    "backoff_scale_pct = %u\nmax_retry_after_s = %u\nca_file = %s\n"
	    "allow_http = %s\n", s->upload_timeout_s,
	    s->upload_connect_timeout_s, s->backoff_scale_pct,
	    s->max_retry_after_s, s->ca_file, s->allow_http ? "true" : "false");
	fprintf(fp, "\n[export]\notlp_endpoint = %s\notlp_headers = %s\n"
	    "otlp_allow_http = %s\n", s->otlp_endpoint,
	    s->otlp_headers[0] != '\0' ? "(set)" : "",
	    s->otlp_allow_http ? "true" : "false");
}
