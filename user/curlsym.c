// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include "curlsym.h"
#include "dynload.h"

#ifndef MCG_CURL_SONAME
#define MCG_CURL_SONAME "libcurl.so.4"
#endif

__typeof__(curl_easy_cleanup) *sym_curl_easy_cleanup;
__typeof__(curl_easy_escape) *sym_curl_easy_escape;
__typeof__(curl_easy_getinfo) *sym_curl_easy_getinfo;
__typeof__(curl_easy_init) *sym_curl_easy_init;
__typeof__(curl_easy_setopt) *sym_curl_easy_setopt;
__typeof__(curl_easy_strerror) *sym_curl_easy_strerror;
__typeof__(curl_free) *sym_curl_free;
__typeof__(curl_global_cleanup) *sym_curl_global_cleanup;
__typeof__(curl_global_init) *sym_curl_global_init;
__typeof__(curl_multi_add_handle) *sym_curl_multi_add_handle;
__typeof__(curl_multi_cleanup) *sym_curl_multi_cleanup;
__typeof__(curl_multi_info_read) *sym_curl_multi_info_read;
__typeof__(curl_multi_init) *sym_curl_multi_init;
__typeof__(curl_multi_perform) *sym_curl_multi_perform;
__typeof__(curl_multi_poll) *sym_curl_multi_poll;
__typeof__(curl_multi_remove_handle) *sym_curl_multi_remove_handle;
__typeof__(curl_multi_strerror) *sym_curl_multi_strerror;
__typeof__(curl_multi_wakeup) *sym_curl_multi_wakeup;
__typeof__(curl_slist_append) *sym_curl_slist_append;
__typeof__(curl_slist_free_all) *sym_curl_slist_free_all;

static const struct mcg_dynsym curl_symbols[] = {
	MCG_DYNSYM(curl_easy_cleanup),
	MCG_DYNSYM(curl_easy_escape),
	MCG_DYNSYM(curl_easy_getinfo),
	MCG_DYNSYM(curl_easy_init),
	MCG_DYNSYM(curl_easy_setopt),
	MCG_DYNSYM(curl_easy_strerror),
	MCG_DYNSYM(curl_free),
	MCG_DYNSYM(curl_global_cleanup),
	MCG_DYNSYM(curl_global_init),
	MCG_DYNSYM(curl_multi_add_handle),
	MCG_DYNSYM(curl_multi_cleanup),
	MCG_DYNSYM(curl_multi_info_read),
	MCG_DYNSYM(curl_multi_init),
	MCG_DYNSYM(curl_multi_perform),
	MCG_DYNSYM(curl_multi_poll),
	MCG_DYNSYM(curl_multi_remove_handle),
	MCG_DYNSYM(curl_multi_strerror),
	MCG_DYNSYM(curl_multi_wakeup),
	MCG_DYNSYM(curl_slist_append),
	MCG_DYNSYM(curl_slist_free_all),
};

int mcg_curl_load(void)
{
	if (sym_curl_global_init)
		return 0;
	return mcg_dynload(MCG_CURL_SONAME, "the Kubernetes mode", curl_symbols,
			   sizeof(curl_symbols) / sizeof(curl_symbols[0]));
}
