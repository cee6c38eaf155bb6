#!/bin/sh
# Source lint, run by `make lint` and `make check`. Usage: lint.sh [TOP]
#  1. banned functions (README "Hacking"): sprintf strcpy strcat strtok atoi gets;
#  2. platform-only calls (README "macOS and BSD"): Linux-only (accept4,
#     SOCK_CLOEXEC, inotify, SO_PEERCRED, /proc ...) and macOS/BSD-only
#     (getpeereid, kqueue, launch_activate_socket ...) names may appear
#     only in the portability layer, proto/port.[ch]; agent/watch.c may
#     use the directory-watch APIs (inotify, kqueue) and nothing else;
#  3. the agent's files call each other in one direction only, and none
#     calls into main.c (scripts/callgraph.sh -c);
#  4. references to documents outside the repository, comments included:
#     point at docs/ARCHITECTURE.md, proto/PROTOCOL.md, a README section or
#     the code instead.
# Comments are skipped; string literals are not (a "/proc/..." path is a
# Linux-only call too).
set -u
top=${1:-$(dirname "$0")/..}
cd "$top" || exit 2
status=0

# C sources with comments blanked (line numbers kept): FILE:LINE:TEXT.
strip_comments() {
	awk '
	FNR == 1 { incomment = 0 }
	{
		line = $0; out = ""
		while (line != "") {
			if (incomment) {
				i = index(line, "*/")
				if (i == 0) { line = ""; break }
				line = substr(line, i + 2); incomment = 0
				continue
			}
			i = index(line, "/*"); j = index(line, "//")
			if (j > 0 && (i == 0 || j < i)) {
				# "//" inside a string ("http://") is not a comment
				pre = substr(line, 1, j - 1)
				q = gsub(/"/, "\"", pre)
				if (q % 2 == 0) { out = out substr(line, 1, j - 1); line = ""; break }
				out = out substr(line, 1, j + 1); line = substr(line, j + 2)
				continue
			}
			if (i == 0) { out = out line; line = ""; break }
			out = out substr(line, 1, i - 1); line = substr(line, i + 2)
			incomment = 1
		}
		print FILENAME ":" FNR ":" out
	}' "$@"
}

files=$(ls agent/*.c agent/*.h client/*.c client/*.h proto/*.c proto/*.h \
    include/atomcode/*.h 2>/dev/null)
[ -n "$files" ] || { echo "lint: no sources under $top"; exit 2; }

bad=$(strip_comments $files |
    grep -E '^[^:]+:[0-9]+:.*(^|[^A-Za-z0-9_])(sprintf|strcpy|strcat|strtok|atoi|gets)[[:space:]]*\(')
if [ -n "$bad" ]; then
	echo "lint: banned functions:"
	echo "$bad"
	status=1
fi

# Linux-only, then macOS/BSD-only names; each needs a port_* wrapper.
INOTIFY='inotify_[a-z0-9_]+|sys/inotify\.h|IN_(ACCESS|ATTRIB|CLOSE|CLOSE_WRITE|CLOSE_NOWRITE|CREATE|DELETE|DELETE_SELF|MODIFY|MOVE_SELF|MOVED_FROM|MOVED_TO|OPEN|MOVE|ONLYDIR|DONT_FOLLOW|EXCL_UNLINK|MASK_ADD|ONESHOT|NONBLOCK|CLOEXEC|Q_OVERFLOW|IGNORED|ISDIR|UNMOUNT|ALL_EVENTS)'
KQUEUE='kqueue|kevent|EVFILT_[A-Z]+|NOTE_[A-Z]+|EV_SET|O_EVTONLY|sys/event\.h'
LINUX='accept4|SOCK_NONBLOCK|SOCK_CLOEXEC|sched_setscheduler|sched_getscheduler|SCHED_BATCH|SCHED_IDLE|SO_PEERCRED|ucred|pipe2|dup3|MSG_NOSIGNAL|O_TMPFILE|O_PATH|O_NOATIME|O_DIRECT|renameat2|RENAME_NOREPLACE|RENAME_EXCHANGE|syncfs|fdatasync|sync_file_range|posix_fadvise|fallocate|prctl|epoll_[a-z0-9_]+|memfd_create|getrandom|close_range|SYS_[a-z0-9_]+|syscall|eventfd|timerfd_[a-z0-9_]+|signalfd|splice|vmsplice|sendfile|copy_file_range|statx|gettid|sched_getcpu|pthread_setname_np|pthread_getattr_np|secure_getenv|getauxval|mremap|malloc_usable_size|mallinfo|get_nprocs|sysinfo|statfs|fstatfs|SO_PASSCRED|SCM_CREDENTIALS|program_invocation_name|strchrnul|memrchr|qsort_r|euidaccess|TEMP_FAILURE_RETRY|CLOCK_BOOTTIME|CLOCK_MONOTONIC_RAW|CLOCK_MONOTONIC_COARSE|htobe[0-9]+|be[0-9]+toh|htole[0-9]+|le[0-9]+toh|bswap_[0-9]+|endian\.h|byteswap\.h|sys/sysinfo\.h|sys/prctl\.h|sys/epoll\.h|sys/syscall\.h|sys/vfs\.h|sys/statfs\.h|linux/[a-z_/]+\.h|malloc\.h'
BSD='getpeereid|LOCAL_PEERCRED|xucred|SO_NOSIGPIPE|launch_activate_socket|launch\.h|_NSGetExecutablePath|mach-o/dyld\.h|renamex_np|F_FULLFSYNC|F_NOCACHE|closefrom|arc4random[a-z_]*|strlcpy|strlcat|reallocarray|KERN_PROC_PATHNAME|st_[amc]timespec'
word() { echo "^[^:]+:[0-9]+:(.*[^A-Za-z0-9_])?($1)([^A-Za-z0-9_].*)?\$"; }
src=$(strip_comments $files | grep -vE '^proto/port\.[ch]:')
# agent/watch.c may use the directory watchers, nothing else.
hits=$( (printf '%s\n' "$src" | grep -v '^agent/watch\.c:' |
    grep -E "$(word "$INOTIFY|$KQUEUE|$LINUX|$BSD")";
    printf '%s\n' "$src" | grep '^agent/watch\.c:' |
    grep -E "$(word "$LINUX|$BSD")";
    printf '%s\n' "$src" | grep -E '^[^:]+:[0-9]+:.*"(/proc/|/dev/shm/)') )
if [ -n "$hits" ]; then
	echo "lint: platform-only calls outside proto/port.[ch] (add a port_* function):"
	echo "$hits"
	status=1
fi

if ! sh "$(dirname "$0")/callgraph.sh" -c "$top"; then
	status=1
fi

# Documents a reader of the repository cannot open.
OUTSIDE='(DESIGN|research|ecosystem|aesthetics)( \S+)? §|STYLE\.md|/work/shared|\.\./shared/|[Ii]ssues? #?[0-9]+([^0-9.]|$)'
docs=$(ls $files agent/*.[ch] client/*.[ch] proto/*.[ch] proto/*.md \
    include/atomcode/*.h scripts/* tests/*/*.c tests/*/*.h tests/*/*.sh \
    tests/*.py tests/*/*.py tests/*/README.md tests/*/*/README.md man/* \
    docs/*.md README.md \
    Makefile .ci/* systemd/* launchd/* 2>/dev/null | sort -u |
    grep -v '^scripts/lint\.sh$')
refs=$(grep -nE "$OUTSIDE" $docs /dev/null)
if [ -n "$refs" ]; then
	echo "lint: references to documents outside the repository:"
	echo "$refs"
	status=1
fi
[ "$status" = 0 ] && echo "lint: ok"
exit "$status"
