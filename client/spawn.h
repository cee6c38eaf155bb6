/*
 * spawn — auto-start of the agent by the shim (docs/ARCHITECTURE.md):
 * decided under the agent's lifetime lock, which is handed to the agent
 * through exec so that fifty racing processes start exactly one agent.
 */
#ifndef CLIENT_SPAWN_H
#define CLIENT_SPAWN_H
#include <stddef.h>

#define SPAWN_PROGRAM	"atomcode-telemetryd"	/* the agent's file name */
#define SPAWN_LOCK_FD	3		/* where the agent finds the lock */

enum spawn_result {
	SPAWN_CONNECTED = 0,	/* a retry connected: *fdp is the socket */
	SPAWN_BUSY,		/* lock held: an agent is alive or starting */
	SPAWN_STARTED,		/* we started an agent (not waited for) */
	SPAWN_FAILED,		/* no program, fork failed…: errno */
};

/*
 * Resolve the agent program as an absolute path: $ATOMCODE_TELEMETRYD if
 * set (a path, or a bare name looked up on $PATH), else
 * atomcode-telemetryd next to /proc/self/exe, else on $PATH.
 * 0 and the path in out, or -1 (ENOENT).
 */
int	spawn_program(char *out, size_t outlen);

/*
 * Called after connecting to sockpath failed with ENOENT, ECONNREFUSED or
 * EAGAIN. Takes lockpath with flock(LOCK_EX|LOCK_NB); busy → SPAWN_BUSY.
 * Acquired → connect once more (SPAWN_CONNECTED, *fdp set); still failing →
 * start the agent detached with the locked fd as fd 3 and
 * ATOMCODE_LOCK_FD=3, close our copy without unlocking → SPAWN_STARTED.
 */
enum spawn_result spawn_agent(const char *lockpath, const char *sockpath,
	    int *fdp);
#endif
