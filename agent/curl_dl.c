/*
 * curl_dl.c — loads libcurl with dlopen at the first upload and resolves
 * the entry points the uploader uses. Never called before there is
 * something to send; never unloads (OpenSSL does not survive dlclose).
 */
#define CURL_DL_NO_MACROS
#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include "curl_dl.h"

#ifdef __APPLE__
#define CURL_DL_LIB	"libcurl.4.dylib"
#else
#define CURL_DL_LIB	"libcurl.so.4"
#endif

struct curl_dl	 curl_dl;
static int	 curl_dl_state;	/* 0 not tried, 1 loaded */

#define SYM(field, name) do {						\
	*(void **)(&curl_dl.field) = dlsym(h, name);			\
	if (curl_dl.field == NULL) {					\
		snprintf(err, errlen, "%s: no symbol %s", CURL_DL_LIB, name); \
		goto fail;						\
	}								\
} while (0)

/* Load libcurl and initialise it once. */
int
curl_dl_load(char *err, size_t errlen)
{
	void	*h;

	if (curl_dl_state == 1)
		return 0;
	if ((h = dlopen(CURL_DL_LIB, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		snprintf(err, errlen, "cannot load %s: %s", CURL_DL_LIB,
		    dlerror());
		return -1;
	}
	SYM(global_init, "curl_global_init");
	SYM(global_cleanup, "curl_global_cleanup");
	SYM(easy_init, "curl_easy_init");
	SYM(easy_cleanup, "curl_easy_cleanup");
	SYM(easy_reset, "curl_easy_reset");
	SYM(easy_setopt, "curl_easy_setopt");
	SYM(easy_getinfo, "curl_easy_getinfo");
	SYM(easy_strerror, "curl_easy_strerror");
	SYM(multi_init, "curl_multi_init");
	SYM(multi_cleanup, "curl_multi_cleanup");
	SYM(multi_setopt, "curl_multi_setopt");
	SYM(multi_add_handle, "curl_multi_add_handle");
	SYM(multi_remove_handle, "curl_multi_remove_handle");
	SYM(multi_assign, "curl_multi_assign");
	SYM(multi_socket_action, "curl_multi_socket_action");
	SYM(multi_info_read, "curl_multi_info_read");
	SYM(multi_strerror, "curl_multi_strerror");
	SYM(slist_append, "curl_slist_append");
	SYM(slist_free_all, "curl_slist_free_all");
	SYM(version_info, "curl_version_info");
	if (curl_dl.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(err, errlen, "curl_global_init failed");
		goto fail;
	}
	curl_dl_state = 1;
	return 0;
fail:
	dlclose(h);
	return -1;
}

/* 1 once libcurl is loaded. */
int
curl_dl_loaded(void)
{
	return curl_dl_state == 1;
}

/* curl_global_cleanup at exit, if loaded. */
void
curl_dl_unload(void)
{
	if (curl_dl_state == 1)
		curl_dl.global_cleanup();
}
