/*
 * curl_dl — libcurl loaded on demand (dlopen) at the first upload, so an
 * agent with nothing to send does not map libcurl and its TLS stack (about
 * 8 MiB of resident library pages here; see docs/PERFORMANCE.md).
 *
 * Include after <curl/curl.h>: the macros below route the libcurl calls of
 * curlev.c (the transfers), upload.c and export.c (header lists, error
 * strings) through the loaded table. Nothing else in the agent calls it.
 */
#ifndef AGENT_CURL_DL_H
#define AGENT_CURL_DL_H

#include <stddef.h>

#include <curl/curl.h>

struct curl_dl {
	CURLcode	 (*global_init)(long);
	void		 (*global_cleanup)(void);
	CURL		*(*easy_init)(void);
	void		 (*easy_cleanup)(CURL *);
	void		 (*easy_reset)(CURL *);
	CURLcode	 (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode	 (*easy_getinfo)(CURL *, CURLINFO, ...);
	const char	*(*easy_strerror)(CURLcode);
	CURLM		*(*multi_init)(void);
	CURLMcode	 (*multi_cleanup)(CURLM *);
	CURLMcode	 (*multi_setopt)(CURLM *, CURLMoption, ...);
	CURLMcode	 (*multi_add_handle)(CURLM *, CURL *);
	CURLMcode	 (*multi_remove_handle)(CURLM *, CURL *);
	CURLMcode	 (*multi_assign)(CURLM *, curl_socket_t, void *);
	CURLMcode	 (*multi_socket_action)(CURLM *, curl_socket_t, int, int *);
	CURLMsg		*(*multi_info_read)(CURLM *, int *);
	const char	*(*multi_strerror)(CURLMcode);
	struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
	void		 (*slist_free_all)(struct curl_slist *);
	curl_version_info_data *(*version_info)(CURLversion);
};

extern struct curl_dl curl_dl;

/* Load libcurl and run curl_global_init once. 0, or -1 with a sentence in err. */
int	curl_dl_load(char *err, size_t errlen);
/* 1 once loaded. */
int	curl_dl_loaded(void);
/* curl_global_cleanup if loaded (exit path). */
void	curl_dl_unload(void);

#ifndef CURL_DL_NO_MACROS
/* curl's gcc type-checking wrappers are macros of these names. */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_multi_setopt
#define curl_easy_init		(*curl_dl.easy_init)
#define curl_easy_cleanup	(*curl_dl.easy_cleanup)
#define curl_easy_reset		(*curl_dl.easy_reset)
#define curl_easy_setopt	(*curl_dl.easy_setopt)
#define curl_easy_getinfo	(*curl_dl.easy_getinfo)
#define curl_easy_strerror	(*curl_dl.easy_strerror)
#define curl_multi_init		(*curl_dl.multi_init)
#define curl_multi_cleanup	(*curl_dl.multi_cleanup)
#define curl_multi_setopt	(*curl_dl.multi_setopt)
#define curl_multi_add_handle	(*curl_dl.multi_add_handle)
#define curl_multi_remove_handle (*curl_dl.multi_remove_handle)
#define curl_multi_assign	(*curl_dl.multi_assign)
#define curl_multi_socket_action (*curl_dl.multi_socket_action)
#define curl_multi_info_read	(*curl_dl.multi_info_read)
#define curl_multi_strerror	(*curl_dl.multi_strerror)
#define curl_slist_append	(*curl_dl.slist_append)
/* NULL-safe: cleanup paths run even when libcurl was never loaded. */
static inline void
curl_dl_slist_free_all(struct curl_slist *l)
{
	if (l != NULL)
		curl_dl.slist_free_all(l);
}
#define curl_slist_free_all	curl_dl_slist_free_all
#define curl_version_info	(*curl_dl.version_info)
#endif
#endif
