// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/*
 * A task_file iterator that lists which processes hold given sockets, so that
 * "mcguard scan --destroy" closes a socket only when every holder is guarded.
 * It reports only files whose inode user space put into mcg_wanted_inodes and
 * reads nothing else of other processes.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* One record per (process, file) match, read by user space from the iterator. */
struct mcg_holder {
	__u64 inode;
	__u32 tgid;
	__u32 fd;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u64);
	__type(value, __u8);
} mcg_wanted_inodes SEC(".maps");

SEC("iter/task_file")
int mcg_holders(struct bpf_iter__task_file *ctx)
{
	struct task_struct *task = ctx->task;
	struct file *file = ctx->file;
	struct mcg_holder holder;

	if (!task || !file)
		return 0;
	holder.inode = BPF_CORE_READ(file, f_inode, i_ino);
	if (!bpf_map_lookup_elem(&mcg_wanted_inodes, &holder.inode))
		return 0;
	holder.tgid = task->tgid;
	holder.fd = ctx->fd;
	bpf_seq_write(ctx->meta->seq, &holder, sizeof(holder));
	return 0;
}
