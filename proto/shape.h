/*
 * shape — the shapes of the record's structured string fields (the other
 * half of the privacy firewall; free text goes through proto/scrub.c).
 * Every string field that is not free text has a shape: a pattern or a list
 * of well-known values. A value outside its shape is never stored as given:
 * it becomes "<custom>" (error_kind: "other"). Pure: no I/O, no state.
 */
#ifndef PROTO_SHAPE_H
#define PROTO_SHAPE_H
#include <stddef.h>

enum shape {
	SH_NONE = 0,
	SH_ACCOUNT,	/* account_id: decimal id or UUID */
	SH_UUIDISH,	/* turn_id: UUID */
	SH_SEMVER,	/* app_version: 4.22.3, 1.0.0-beta.2 */
	SH_LOCALE,	/* locale: ll-CC, ll, C, POSIX, "" */
	SH_PROVIDER,	/* provider: known provider types */
	SH_PHOST,	/* provider_host: known public provider hosts */
	SH_MODEL,	/* model: public model id families */
	SH_SURFACE,	/* surface: known origins of an LLM call */
	SH_TOOL,	/* tool_call.name: builtin tools, mcp__known__tool */
	SH_COMMAND,	/* use_command.type: builtin slash commands */
	SH_MCP,		/* mcp_connect.server_name: well-known MCP servers */
	SH_INVITE,	/* invite_code: 4-32 ASCII letters and digits */
	SH_KIND,	/* error_kind: known error kinds */
	SH_N
};

#define SHAPE_CUSTOM	"<custom>"	/* a value outside its shape */
#define SHAPE_KIND_OTHER "other"	/* error_kind outside its list */

/*
 * Check p[0..n) against shape sh. Returns 0 when it may be stored as given;
 * 1 when it must be replaced by out[0..*outn) (which may point into p: the
 * public host of "https://user:pw@api.openai.com:443/v1", or a constant).
 */
int	shape_fix(enum shape sh, const char *p, size_t n, const char **out,
	    size_t *outn);
#endif
