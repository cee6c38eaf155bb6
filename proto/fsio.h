/* fsio — small file I/O helpers shared by the proto modules. */
#ifndef PROTO_FSIO_H
#define PROTO_FSIO_H
#include <stddef.h>

/* write(2) all n bytes (retrying EINTR and short writes). 0 or -1 with errno. */
int	fsio_write_all(int fd, const char *p, size_t n);
#endif
