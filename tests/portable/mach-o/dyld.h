/*
 * Stand-in for macOS <mach-o/dyld.h>, declaring only what proto/port.c
 * uses: 0, or -1 with *bufsize set to the size needed.
 */
#ifndef ATC_STANDIN_DYLD_H
#define ATC_STANDIN_DYLD_H
#include <stdint.h>

int	_NSGetExecutablePath(char *buf, uint32_t *bufsize);
#endif
