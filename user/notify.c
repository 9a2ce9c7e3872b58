// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"

/* The target does not change while mcguard runs, so an unusable one is reported once. */
static bool warned_target;

int mcg_notify(const char *state)
{
	const char *target = getenv("NOTIFY_SOCKET");
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	size_t target_len;
	socklen_t addr_len;
	int fd, err = 1;

	if (!target || !target[0])
		return 0;
	target_len = strlen(target);
	/*
	 * NOTE: newer systemd versions also accept AF_VSOCK targets ("vsock:...").
	 * This sends only to AF_UNIX ones.
	 */
	if ((target[0] != '/' && target[0] != '@') || target_len >= sizeof(addr.sun_path)) {
		if (!warned_target)
			pr_warn("NOTIFY_SOCKET=%s: not a socket path or @abstract name of at most %zu bytes, so the service manager gets no status",
				target, sizeof(addr.sun_path) - 1);
		warned_target = true;
		return -EAFNOSUPPORT;
	}
	memcpy(addr.sun_path, target, target_len);
	/* An abstract name starts with a zero byte and has no terminator. */
	if (target[0] == '@')
		addr.sun_path[0] = '\0';
	addr_len = offsetof(struct sockaddr_un, sun_path) + target_len + (target[0] == '/');

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&addr,
			     addr_len) < 0) {
		err = -errno;
		pr_warn("send \"%s\" to NOTIFY_SOCKET=%s: %s", state, target, strerror(-err));
	}
	if (fd >= 0)
		close(fd);
	return err;
}
