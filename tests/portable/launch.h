/*
 * Stand-in for macOS <launch.h> (macOS 10.10+), declaring only what
 * proto/port.c uses, so its launchd branch compiles on Linux. Returns 0
 * and a malloc'ed array of *cnt descriptors the caller frees, or an errno
 * value (ESRCH: not managed by launchd, ENOENT: no such socket name).
 */
#ifndef ATC_STANDIN_LAUNCH_H
#define ATC_STANDIN_LAUNCH_H
#include <stddef.h>

int	launch_activate_socket(const char *name, int **fds, size_t *cnt);
#endif
