/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The libcurl functions of the Kubernetes API client. libcurl and its TLS,
 * Kerberos and LDAP dependencies are opened only when the Kubernetes mode
 * starts (mcg_curl_load), so the daemon without it does not map them.
 */
#ifndef MCG_CURLSYM_H
#define MCG_CURLSYM_H

#include <curl/curl.h>

extern __typeof__(curl_easy_cleanup) *sym_curl_easy_cleanup;
extern __typeof__(curl_easy_escape) *sym_curl_easy_escape;
extern __typeof__(curl_easy_getinfo) *sym_curl_easy_getinfo;
extern __typeof__(curl_easy_init) *sym_curl_easy_init;
extern __typeof__(curl_easy_setopt) *sym_curl_easy_setopt;
extern __typeof__(curl_easy_strerror) *sym_curl_easy_strerror;
extern __typeof__(curl_free) *sym_curl_free;
extern __typeof__(curl_global_cleanup) *sym_curl_global_cleanup;
extern __typeof__(curl_global_init) *sym_curl_global_init;
extern __typeof__(curl_multi_add_handle) *sym_curl_multi_add_handle;
extern __typeof__(curl_multi_cleanup) *sym_curl_multi_cleanup;
extern __typeof__(curl_multi_info_read) *sym_curl_multi_info_read;
extern __typeof__(curl_multi_init) *sym_curl_multi_init;
extern __typeof__(curl_multi_perform) *sym_curl_multi_perform;
extern __typeof__(curl_multi_poll) *sym_curl_multi_poll;
extern __typeof__(curl_multi_remove_handle) *sym_curl_multi_remove_handle;
extern __typeof__(curl_multi_strerror) *sym_curl_multi_strerror;
extern __typeof__(curl_multi_wakeup) *sym_curl_multi_wakeup;
extern __typeof__(curl_slist_append) *sym_curl_slist_append;
extern __typeof__(curl_slist_free_all) *sym_curl_slist_free_all;

/*
 * Load libcurl and resolve the functions above; later calls return at once.
 * Returns 0, or -1 after logging why.
 */
int mcg_curl_load(void);

#endif
