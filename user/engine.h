/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Docker and Podman containers: what `docker container inspect` and
 * `podman container inspect` print about one, and the names their cgroups
 * get. Pure parsing, no I/O.
 *
 * Cgroup names, by engine and cgroup driver:
 *   docker, systemd driver    .../docker-<id>.scope      (system.slice by default)
 *   docker, cgroupfs driver   .../docker/<id>, or PARENT/<id> with --cgroup-parent
 *   podman, systemd driver    .../libpod-<id>.scope      (machine.slice by default)
 *   podman, cgroupfs driver   .../libpod-<id>            (libpod_parent by default)
 *   podman, --cgroups=split   .../libpod-payload-<id>
 * <id> is the full 64-character hexadecimal container ID. Podman's
 * libpod-conmon-<id>.scope contains its monitor process, not the container.
 */
#ifndef MCG_ENGINE_H
#define MCG_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <linux/types.h>

#define MCG_CONTAINER_ID_LEN 64
#define MCG_MAX_PUBLISHED 64

/* One published port: host address and port to container port. */
struct mcg_published_port {
	__u16 container_port;
	__u16 host_port;
	__u8 protocol;    /* IPPROTO_TCP, IPPROTO_UDP or IPPROTO_SCTP */
	char host_ip[46]; /* as the engine prints it; "" means every address */
};

struct mcg_container {
	char id[MCG_CONTAINER_ID_LEN + 1];
	char name[256];
	char engine[16]; /* "docker" or "podman"; "" when the ID was given without an engine */
	int pid;         /* State.Pid: the container's first process, 0 when it is not running */
	bool host_network;
	struct mcg_published_port ports[MCG_MAX_PUBLISHED];
	unsigned int port_count;
};

/* Is text a full container ID: 64 lowercase hexadecimal digits? */
bool mcg_container_id_valid(const char *text);

/*
 * Parse inspect output (a JSON array with one container object) into c,
 * keeping c->engine. Published ports come from NetworkSettings.Ports, or from
 * HostConfig.PortBindings when that is empty, as it is for a container that
 * is not running. Returns 0, or -EINVAL with a message in error[size].
 */
int mcg_container_parse_inspect(const char *json, struct mcg_container *c, char *error,
				size_t size);

/*
 * Match a cgroup directory name, below a directory named parent, against the
 * naming schemes above. On a match, copy the container ID to id and return a
 * short description of the scheme. Otherwise return NULL.
 */
const char *mcg_container_cgroup_scheme(const char *parent, const char *name,
					char id[MCG_CONTAINER_ID_LEN + 1]);

/* Is a published port's host address loopback (127.0.0.0/8 or ::1)? */
bool mcg_published_on_loopback(const struct mcg_published_port *port);

#endif
