/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Status messages to the service manager, in the datagram protocol that
 * systemd documents in sd_notify(3). mcguard speaks it itself instead of
 * linking libsystemd, which on Debian 12 (systemd 252) also maps libgcrypt,
 * liblzma, libzstd, liblz4 and libcap for this one function.
 */
#ifndef MCG_NOTIFY_H
#define MCG_NOTIFY_H

/*
 * Send state, newline-separated VARIABLE=VALUE assignments such as
 * "READY=1", to the socket named by $NOTIFY_SOCKET: a path, or an abstract
 * socket written with a leading "@". Returns 1 when sent, 0 when
 * $NOTIFY_SOCKET is unset, a negative errno after logging a failure.
 */
int mcg_notify(const char *state);

#endif
