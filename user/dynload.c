// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dlfcn.h>

#include "dynload.h"
#include "log.h"

int mcg_dynload(const char *soname, const char *purpose, const struct mcg_dynsym *symbols,
		size_t count)
{
	void *library = dlopen(soname, RTLD_NOW | RTLD_LOCAL);

	if (!library) {
		pr_err("%s needs %s, which failed to load: %s (install the package that provides it)",
		       purpose, soname, dlerror());
		return -1;
	}
	for (size_t i = 0; i < count; i++) {
		*symbols[i].address = dlsym(library, symbols[i].name);
		if (!*symbols[i].address) {
			pr_err("%s needs %s from %s, which it does not export: %s", purpose,
			       symbols[i].name, soname, dlerror());
			/* Callers test a resolved pointer to see whether the library is loaded. */
			for (size_t j = 0; j < i; j++)
				*symbols[j].address = NULL;
			dlclose(library);
			return -1;
		}
	}
	return 0;
}
