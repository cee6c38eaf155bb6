/*
 * Stand-in for the kqueue(2) API of macOS <sys/event.h> (the BSDs agree
 * on everything used here), declaring only what agent/watch.c uses, so
 * its kqueue branch compiles on Linux. Values are macOS's.
 */
#ifndef ATC_STANDIN_SYS_EVENT_H
#define ATC_STANDIN_SYS_EVENT_H
#include <stdint.h>
#include <time.h>

struct kevent {
	uintptr_t	ident;	/* identifier for this event */
	int16_t		filter;	/* filter for event */
	uint16_t	flags;	/* general flags */
	uint32_t	fflags;	/* filter-specific flags */
	intptr_t	data;	/* filter-specific data */
	void		*udata;	/* opaque user data identifier */
};

#define EVFILT_VNODE	(-4)

#define EV_ADD		0x0001
#define EV_DELETE	0x0002
#define EV_ENABLE	0x0004
#define EV_CLEAR	0x0020

#define NOTE_DELETE	0x00000001
#define NOTE_WRITE	0x00000002
#define NOTE_EXTEND	0x00000004
#define NOTE_ATTRIB	0x00000008
#define NOTE_RENAME	0x00000020

#define EV_SET(kevp, a, b, c, d, e, f) do {	\
	struct kevent *__kevp__ = (kevp);	\
	__kevp__->ident = (a);			\
	__kevp__->filter = (b);			\
	__kevp__->flags = (c);			\
	__kevp__->fflags = (d);			\
	__kevp__->data = (e);			\
	__kevp__->udata = (f);			\
} while (0)

int	kqueue(void);
int	kevent(int kq, const struct kevent *changelist, int nchanges,
	    struct kevent *eventlist, int nevents,
	    const struct timespec *timeout);
#endif
