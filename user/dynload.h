/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Libraries that only one mode of mcguard uses (libcurl for Kubernetes,
 * libmicrohttpd for the metrics endpoint) are opened with dlopen() when
 * that mode starts, so the other modes do not map them and their
 * dependencies.
 */
#ifndef MCG_DYNLOAD_H
#define MCG_DYNLOAD_H

#include <stddef.h>

/* A function to resolve: its name and the pointer that receives its address. */
struct mcg_dynsym {
	const char *name;
	void **address;
};

#define MCG_DYNSYM(function) { #function, (void **)&sym_##function }

/*
 * Open the library soname and fill in every symbol of the table. The library
 * stays loaded until exit. purpose names the feature in the error message.
 * Returns 0, or -1 after logging what is missing, with every symbol NULL.
 */
int mcg_dynload(const char *soname, const char *purpose, const struct mcg_dynsym *symbols,
		size_t count);

#endif
