/* log — OpenBSD-style logging for the agent (stderr; systemd/launchd capture it). */
#ifndef AGENT_LOG_H
#define AGENT_LOG_H

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Set the threshold (messages above it are discarded). */
void	log_set_level(enum log_level l);
/* Parse "error|warn|info|debug"; -1 if unknown. */
int	log_level_parse(const char *s);
/* Warning with strerror(errno) appended. */
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Warning without errno. */
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Broken invariant only: log and exit(1). Never for peer, disk or network errors. */
void	fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
#endif
