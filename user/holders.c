// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "holders.h"
#include "log.h"
#include "mcguard_holders.skel.h"

/* Read all records of an iterator; its output is a stream of mcg_holder_record. */
static int read_records(int iter_fd, struct mcg_holder_record **records)
{
	size_t used = 0, capacity = 0;
	char *buf = NULL;

	for (;;) {
		ssize_t len;

		if (capacity - used < 4096) {
			char *grown = realloc(buf, capacity + 65536);

			if (!grown) {
				free(buf);
				return -ENOMEM;
			}
			buf = grown;
			capacity += 65536;
		}
		len = read(iter_fd, buf + used, capacity - used);
		if (len < 0) {
			if (errno == EINTR)
				continue;
			free(buf);
			return -errno;
		}
		if (len == 0)
			break;
		used += len;
	}
	*records = (struct mcg_holder_record *)buf;
	return used / sizeof(**records);
}

int mcg_find_holders(const __u64 *inodes, size_t count, struct mcg_holder_record **records)
{
	struct mcguard_holders_bpf *skel;
	struct bpf_link *link = NULL;
	int iter_fd = -1, err;
	__u8 yes = 1;

	*records = NULL;
	skel = mcguard_holders_bpf__open_and_load();
	if (!skel) {
		err = -errno;
		pr_err("load the socket holder iterator: %s (the kernel needs BPF task_file iterators)",
		       strerror(-err));
		return err;
	}
	for (size_t i = 0; i < count; i++) {
		if (bpf_map_update_elem(bpf_map__fd(skel->maps.mcg_wanted_inodes), &inodes[i], &yes,
					BPF_ANY)) {
			err = -errno;
			goto out;
		}
	}
	link = bpf_program__attach_iter(skel->progs.mcg_holders, NULL);
	if (!link) {
		err = -errno;
		pr_err("attach the socket holder iterator: %s", strerror(-err));
		goto out;
	}
	iter_fd = bpf_iter_create(bpf_link__fd(link));
	if (iter_fd < 0) {
		err = -errno;
		pr_err("create the socket holder iterator: %s", strerror(-err));
		goto out;
	}
	err = read_records(iter_fd, records);
out:
	if (iter_fd >= 0)
		close(iter_fd);
	bpf_link__destroy(link);
	mcguard_holders_bpf__destroy(skel);
	return err;
}
