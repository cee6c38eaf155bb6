/* log — OpenBSD-style logging for the agent (stderr; systemd/launchd capture it). */
#ifndef AGENT_LOG_H
#define AGENT_LOG_H

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* Set the threshold (messages above it are discarded). */
void	log_set_level(enum log_level l);
/* Parse "error|warn|info|debug"; -1 if unknown. */
int	log_level_parse(const char *s);
#define LOG_ERRNO	0x100	/* log_emit: append strerror(errno) */
/*
 * One line at level l (a LOG_LVL_*, | LOG_ERRNO for strerror(errno)),
 * through the macros below; errno is kept.
 */
void	log_emit(int l, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
/* Warning with strerror(errno) appended. */
#define log_warn(...)	log_emit(LOG_LVL_WARN | LOG_ERRNO, __VA_ARGS__)
/* Warning without errno. */
#define log_warnx(...)	log_emit(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)	log_emit(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)	log_emit(LOG_LVL_DEBUG, __VA_ARGS__)
/* Broken invariant only: log and exit(1). Never for peer, disk or network errors. */
void	fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
#endif
