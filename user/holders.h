/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The processes that hold given socket inodes, from a BPF task_file iterator. */
#ifndef MCG_HOLDERS_H
#define MCG_HOLDERS_H

#include <stddef.h>
#include <linux/types.h>

struct mcg_holder_record {
	__u64 inode;
	__u32 tgid;
	__u32 fd;
};

/*
 * List every (process, descriptor) that holds one of inodes. Returns the
 * number of records in *records (the caller frees it) or -errno.
 */
int mcg_find_holders(const __u64 *inodes, size_t count, struct mcg_holder_record **records);

#endif
