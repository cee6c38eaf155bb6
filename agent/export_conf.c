/*
 * export_conf.c — the checks of the [export] settings (telemetryd.conf):
 * the OTLP endpoint and the header list, and the header list's parsing.
 * Pure string work, shared by settings.c (refuse a bad file) and export.c
 * (build the request). Must never do I/O or accept a value that could
 * inject a header line.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "export.h"

#define EX_HDR_MAX	1024	/* one configured header line */

/* Check an endpoint (see export.h). */
int
export_check_endpoint(const char *url, int allow_http, char *err,
    size_t errlen)
{
	const char	*h, *e, *at;
	char		 host[256];
	unsigned char	 a4[4];
	size_t		 n;
	int		 https;

	if (url == NULL || *url == '\0') {
		snprintf(err, errlen, "empty endpoint");
		return -1;
	}
	for (h = url; *h != '\0'; h++) {
		if ((unsigned char)*h <= ' ' || *h == 0x7f) {
			snprintf(err, errlen, "endpoint has a space or a "
			    "control character");
			return -1;
		}
	}
	https = strncasecmp(url, "https://", 8) == 0;
	if (!https && strncasecmp(url, "http://", 7) != 0) {
		snprintf(err, errlen, "endpoint must be an http:// or https:// "
		    "URL");
		return -1;
	}
	h = url + (https ? 8 : 7);
	e = h + strcspn(h, "/?#");
	if ((at = memchr(h, '@', (size_t)(e - h))) != NULL)
		h = at + 1;
	if (h < e && *h == '[') {
		h++;
		n = strcspn(h, "]");
	} else
		n = strcspn(h, ":/?#");
	if (n == 0 || n >= sizeof host || h + n > e) {
		snprintf(err, errlen, "endpoint has no host");
		return -1;
	}
	memcpy(host, h, n);
	host[n] = '\0';
	if (https || allow_http)
		return 0;
	if (strcasecmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 ||
	    (inet_pton(AF_INET, host, a4) == 1 && a4[0] == 127))
		return 0;
	snprintf(err, errlen, "plain http:// is allowed only to a loopback "
	    "host (records would travel in clear); use https:// or set "
	    "otlp_allow_http = true");
	return -1;
}

static int
ex_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* An HTTP token character (RFC 9110 tchar). */
static int
ex_tchar(int c)
{
	return isalnum(c) || (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Parse a header list (see export.h). */
int
export_headers_parse(const char *spec, struct buf *out, char *err,
    size_t errlen)
{
	static const char *const reserved[] = { "content-type",
	    "content-encoding", "content-length", "host", "transfer-encoding",
	    "connection", "expect", NULL };
	const char		*p = spec, *item, *end, *eq;
	char			 line[EX_HDR_MAX], name[128];
	size_t			 nlen, o;
	int			 i, hi, lo, c;

	while (p != NULL && *p != '\0') {
		item = p;
		end = item + strcspn(item, ",");
		p = *end == ',' ? end + 1 : NULL;
		while (item < end && isspace((unsigned char)*item))
			item++;
		if (item == end)
			continue;
		if ((eq = memchr(item, '=', (size_t)(end - item))) == NULL) {
			snprintf(err, errlen, "header \"%.*s\" has no '='",
			    (int)((end - item) > 40 ? 40 : end - item), item);
			goto fail;
		}
		nlen = (size_t)(eq - item);
		while (nlen > 0 && isspace((unsigned char)item[nlen - 1]))
			nlen--;
		if (nlen == 0 || nlen >= sizeof name) {
			snprintf(err, errlen, "a header has no name or a name "
			    "that is too long");
			goto fail;
		}
		memcpy(name, item, nlen);
		name[nlen] = '\0';
		for (o = 0; o < nlen; o++) {
			if (!ex_tchar((unsigned char)name[o])) {
				snprintf(err, errlen, "header name \"%.40s\" is "
				    "not an HTTP token", name);
				goto fail;
			}
		}
		for (i = 0; reserved[i] != NULL; i++) {
			if (strcasecmp(name, reserved[i]) == 0) {
				snprintf(err, errlen, "header %s is set by the "
				    "agent", name);
				goto fail;
			}
		}
		o = (size_t)snprintf(line, sizeof line, "%s: ", name);
		for (eq++; eq < end && isspace((unsigned char)*eq); eq++)
			;
		while (end > eq && isspace((unsigned char)end[-1]))
			end--;
		for (; eq < end; eq++) {
			c = (unsigned char)*eq;
			if (c == '%' && end - eq >= 3 &&
			    (hi = ex_hex((unsigned char)eq[1])) >= 0 &&
			    (lo = ex_hex((unsigned char)eq[2])) >= 0) {
				c = hi << 4 | lo;
				eq += 2;
			}
			if (c < 0x20 || c == 0x7f) {
				snprintf(err, errlen, "header %s: a control "
				    "character in the value", name);
				goto fail;
			}
			if (o + 1 >= sizeof line) {
				snprintf(err, errlen, "header %s is too long",
				    name);
				goto fail;
			}
			line[o++] = (char)c;
		}
		line[o] = '\0';
		if (out != NULL && (buf_puts(out, line) == -1 ||
		    buf_putc(out, '\n') == -1)) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	}
	return 0;
fail:
	return -1;
}

/* Check a header list (see export.h): no libcurl needed. */
int
export_check_headers(const char *spec, char *err, size_t errlen)
{
	return export_headers_parse(spec, NULL, err, errlen);
}
