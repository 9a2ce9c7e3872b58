// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <limits.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>

#include "cgroup.h"
#include "format.h"
#include "holders.h"
#include "log.h"
#include "mcguard_addr.h"
#include "netns.h"
#include "scan.h"

#define diag_sock mcg_diag_sock

/* A socket file descriptor of a guarded process. */
struct held_sock {
	unsigned long inode;
	unsigned long netns;
	int pid;
	int fd;
	__u64 cgroup_id;
};

struct held_list {
	struct held_sock *items;
	size_t count, capacity;
	int processes;  /* PIDs read from cgroup.procs */
	int unreadable; /* of those, processes whose namespace or descriptors were unreadable */
};

static const char *const state_names[] = {
	[1] = "ESTABLISHED", [2] = "SYN_SENT",   [3] = "SYN_RECV", [4] = "FIN_WAIT1",
	[5] = "FIN_WAIT2",   [6] = "TIME_WAIT",  [7] = "CLOSE",    [8] = "CLOSE_WAIT",
	[9] = "LAST_ACK",    [10] = "LISTEN",    [11] = "CLOSING", [12] = "NEW_SYN_RECV",
};

const char *mcg_tcp_state_name(unsigned int state)
{
	if (state < sizeof(state_names) / sizeof(state_names[0]) && state_names[state])
		return state_names[state];
	return "UNKNOWN";
}

static int held_add(struct held_list *list, const struct held_sock *sock)
{
	if (list->count == list->capacity) {
		size_t capacity = list->capacity ? list->capacity * 2 : 64;
		struct held_sock *grown = realloc(list->items, capacity * sizeof(*grown));

		if (!grown)
			return -ENOMEM;
		list->items = grown;
		list->capacity = capacity;
	}
	list->items[list->count++] = *sock;
	return 0;
}

/*
 * Record every socket descriptor of one process. A process that exited
 * meanwhile is skipped; one whose /proc entries cannot be read (another
 * user's, without root) is counted as unreadable.
 */
static void collect_pid(struct held_list *list, int pid, __u64 cgroup_id)
{
	char path[64], target[64];
	struct held_sock sock = { .pid = pid, .cgroup_id = cgroup_id };
	struct dirent *entry;
	struct stat st;
	DIR *dir;

	list->processes++;
	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	if (stat(path, &st)) {
		list->unreadable += errno != ENOENT && errno != ESRCH;
		return;
	}
	sock.netns = st.st_ino;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	dir = opendir(path);
	if (!dir) {
		list->unreadable += errno != ENOENT && errno != ESRCH;
		return;
	}
	while ((entry = readdir(dir))) {
		char link[NAME_MAX + 32];
		ssize_t len;

		if (entry->d_name[0] == '.')
			continue;
		snprintf(link, sizeof(link), "/proc/%d/fd/%s", pid, entry->d_name);
		len = readlink(link, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		if (sscanf(target, "socket:[%lu]", &sock.inode) != 1)
			continue;
		sock.fd = atoi(entry->d_name);
		if (held_add(list, &sock))
			break;
	}
	closedir(dir);
}

static struct held_list *walk_list;

static int walk_cgroup(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	char procs[PATH_MAX + 16];
	__u64 cgroup_id = 0;
	FILE *f;
	int pid;

	(void)st;
	(void)ftw;
	if (type != FTW_D)
		return 0;
	mcg_cgroup_id(path, &cgroup_id);
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", path);
	f = fopen(procs, "re");
	if (!f)
		return 0;
	while (fscanf(f, "%d", &pid) == 1)
		collect_pid(walk_list, pid, cgroup_id);
	fclose(f);
	return 0;
}

/* Fill sock from one sock_diag message, with IPV6_V6ONLY from its attributes. */
static void parse_diag_message(const struct nlmsghdr *nlh, __u8 protocol, struct diag_sock *sock)
{
	const struct inet_diag_msg *msg = NLMSG_DATA(nlh);
	int attr_len = nlh->nlmsg_len - NLMSG_LENGTH(sizeof(*msg));
	struct rtattr *attr = (struct rtattr *)((char *)msg + NLMSG_ALIGN(sizeof(*msg)));

	memset(sock, 0, sizeof(*sock));
	sock->family = msg->idiag_family;
	sock->protocol = protocol;
	sock->state = msg->idiag_state;
	sock->sport = ntohs(msg->id.idiag_sport);
	sock->dport = ntohs(msg->id.idiag_dport);
	memcpy(sock->src, msg->id.idiag_src, sizeof(sock->src));
	memcpy(sock->dst, msg->id.idiag_dst, sizeof(sock->dst));
	sock->ifindex = msg->id.idiag_if;
	sock->inode = msg->idiag_inode;
	sock->cookie[0] = msg->id.idiag_cookie[0];
	sock->cookie[1] = msg->id.idiag_cookie[1];
	/* The kernel adds INET_DIAG_SKV6ONLY unasked for listening and closed IPv6 sockets. */
	for (; RTA_OK(attr, attr_len); attr = RTA_NEXT(attr, attr_len))
		if (attr->rta_type == INET_DIAG_SKV6ONLY && RTA_PAYLOAD(attr) >= 1)
			sock->v6only = *(__u8 *)RTA_DATA(attr);
}

/* Dump the TCP and UDP sockets of both families in the current namespace to fd. */
static int dump_sockets(int out, void *unused)
{
	static const __u8 protocols[] = { IPPROTO_TCP, IPPROTO_UDP };
	static const __u8 families[] = { AF_INET, AF_INET6 };
	char buf[32768];
	int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);

	(void)unused;
	if (nl < 0)
		return -errno;
	for (size_t p = 0; p < 2; p++) {
		for (size_t f = 0; f < 2; f++) {
			struct {
				struct nlmsghdr nlh;
				struct inet_diag_req_v2 req;
			} request = {
				.nlh = { .nlmsg_len = sizeof(request), .nlmsg_type = SOCK_DIAG_BY_FAMILY,
					 .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP },
				.req = { .sdiag_family = families[f], .sdiag_protocol = protocols[p],
					 .idiag_states = ~0u },
			};
			int done = 0;

			if (send(nl, &request, sizeof(request), 0) < 0)
				return -errno;
			while (!done) {
				ssize_t len = recv(nl, buf, sizeof(buf), 0);
				struct nlmsghdr *nlh;

				if (len <= 0)
					return len < 0 ? -errno : -EIO;
				for (nlh = (struct nlmsghdr *)buf; NLMSG_OK(nlh, len);
				     nlh = NLMSG_NEXT(nlh, len)) {
					struct diag_sock sock;

					if (nlh->nlmsg_type == NLMSG_DONE || nlh->nlmsg_type == NLMSG_ERROR) {
						done = 1;
						break;
					}
					parse_diag_message(nlh, protocols[p], &sock);
					if (write(out, &sock, sizeof(sock)) != sizeof(sock))
						return -EPIPE;
				}
			}
		}
	}
	close(nl);
	return 0;
}

/*
 * sock_diag lists only the caller's namespace, so a child process enters the
 * namespace and passes the records back through a pipe.
 */
int mcg_netns_sockets(const char *ns_path, struct diag_sock **socks, size_t *count)
{
	char *data;
	size_t len;
	int err;

	*socks = NULL;
	*count = 0;
	err = mcg_netns_collect(ns_path, dump_sockets, NULL, &data, &len);
	if (err)
		return err;
	*count = len / sizeof(**socks);
	*socks = (struct diag_sock *)data;
	return 0;
}

bool mcg_sock_is_listener(const struct diag_sock *sock)
{
	if (sock->protocol == IPPROTO_TCP)
		return sock->state == MCG_TCP_LISTEN;
	return sock->state == MCG_TCP_CLOSE && sock->sport != 0;
}

bool mcg_sock_local_is_loopback(const struct diag_sock *sock)
{
	if (sock->family == AF_INET)
		return mcg_ip4_is_loopback(sock->src[0]);
	return mcg_ip6_is_loopback_any_form(sock->src);
}

bool mcg_sock_escapes(const struct diag_sock *sock, const struct mcg_policy *policy, int *bound)
{
	__u8 proto = sock->protocol == IPPROTO_TCP ? MCG_PROTO_TCP : MCG_PROTO_UDP;
	int listening = sock->protocol == IPPROTO_TCP ? sock->state == MCG_TCP_LISTEN
						      : sock->state == MCG_TCP_CLOSE;

	*bound = listening;
	if (listening) {
		if (mcg_sock_local_is_loopback(sock) || sock->ifindex == MCG_LOOPBACK_IFINDEX)
			return false;
		if (sock->family == AF_INET)
			return !mcg_rules_match_ip4(policy->bind, policy->bind_count, sock->src[0],
						    sock->sport, proto);
		return !mcg_rules_match_sock6(policy->bind, policy->bind_count, sock->src,
					      sock->sport, proto);
	}
	if (sock->family == AF_INET) {
		if (mcg_ip4_dest_is_local(sock->dst[0]))
			return false;
		return !mcg_rules_match_ip4(policy->connect, policy->connect_count, sock->dst[0],
					    sock->dport, proto);
	}
	if (mcg_ip6_dest_is_local(sock->dst))
		return false;
	return !mcg_rules_match_sock6(policy->connect, policy->connect_count, sock->dst,
				      sock->dport, proto);
}

static void read_comm(int pid, char *comm, size_t size)
{
	char path[64];
	FILE *f;

	comm[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	f = fopen(path, "re");
	if (!f)
		return;
	if (fgets(comm, size, f))
		comm[strcspn(comm, "\n")] = '\0';
	fclose(f);
}

static void fill_escape(struct mcg_escape *escape, const struct mcg_held_socket *held,
			__u64 guard_id, int bound)
{
	const struct diag_sock *sock = &held->diag;
	struct mcg_event *event = &escape->event;
	const __u32 *addr = bound ? sock->src : sock->dst;
	char path[64];
	struct stat st;
	struct timespec now;

	memset(escape, 0, sizeof(*escape));
	clock_gettime(CLOCK_REALTIME, &now);
	event->version = MCG_EVENT_VERSION;
	event->verdict = MCG_VERDICT_ESCAPED;
	event->family = sock->family == AF_INET6 ? MCG_FAMILY_IPV6 : MCG_FAMILY_IPV4;
	if (bound)
		event->hook = event->family == MCG_FAMILY_IPV6 ? MCG_HOOK_BIND6 : MCG_HOOK_BIND4;
	else
		event->hook = event->family == MCG_FAMILY_IPV6 ? MCG_HOOK_CONNECT6
							       : MCG_HOOK_CONNECT4;
	event->protocol = sock->protocol;
	event->port = bound ? sock->sport : sock->dport;
	event->pid = held->pid;
	event->time_ns = now.tv_sec * 1000000000ull + now.tv_nsec;
	event->cgroup_id = held->cgroup_id;
	event->guard_cgroup_id = guard_id;
	memcpy(event->addr, addr, event->family == MCG_FAMILY_IPV6 ? 16 : 4);

	snprintf(path, sizeof(path), "/proc/%d", held->pid);
	if (stat(path, &st) == 0)
		event->uid = st.st_uid;
	memcpy(event->comm, held->comm, sizeof(event->comm));
	escape->diag = *sock;
	escape->state = sock->state;
	escape->inode = sock->inode;
	escape->fd = held->fd;
}

/* Add the sockets of one namespace that the processes in held hold, one entry per socket. */
static int match_namespace(const struct held_list *held, size_t first,
			   struct mcg_cgroup_sockets *result)
{
	struct mcg_scanned_netns *ns = &result->netns[result->netns_count - 1];
	struct diag_sock *socks = NULL;
	char ns_path[64];
	size_t count = 0;
	int err;

	/* A process that exited meanwhile cannot name the namespace: try its other processes. */
	err = -ESRCH;
	for (size_t h = first; h < held->count && (err == -ENOENT || err == -ESRCH); h++) {
		if (held->items[h].netns != held->items[first].netns ||
		    (h > first && held->items[h].pid == held->items[h - 1].pid))
			continue;
		snprintf(ns_path, sizeof(ns_path), "/proc/%d/ns/net", held->items[h].pid);
		err = mcg_netns_sockets(ns_path, &socks, &count);
		ns->pid = held->items[h].pid;
	}
	/* When all of them exited, their sockets are gone with them. */
	if (err == -ENOENT || err == -ESRCH)
		return 0;
	if (err) {
		ns->error = -err;
		return err == -ENOMEM ? err : 0;
	}
	for (size_t s = 0; s < count; s++) {
		for (size_t h = first; h < held->count; h++) {
			struct mcg_held_socket *grown, *entry;

			if (held->items[h].netns != held->items[first].netns ||
			    held->items[h].inode != socks[s].inode)
				continue;
			grown = realloc(result->sockets, (result->count + 1) * sizeof(*grown));
			if (!grown) {
				free(socks);
				return -ENOMEM;
			}
			result->sockets = grown;
			entry = &grown[result->count++];
			memset(entry, 0, sizeof(*entry));
			entry->diag = socks[s];
			entry->netns = held->items[h].netns;
			entry->pid = held->items[h].pid;
			entry->fd = held->items[h].fd;
			entry->cgroup_id = held->items[h].cgroup_id;
			read_comm(entry->pid, entry->comm, sizeof(entry->comm));
			break; /* one entry per socket, for its first holder */
		}
	}
	free(socks);
	return 0;
}

int mcg_scan_cgroup(const char *cgroup_path, struct mcg_cgroup_sockets *result)
{
	struct held_list held = { 0 };
	int err = 0;

	memset(result, 0, sizeof(*result));
	walk_list = &held;
	if (nftw(cgroup_path, walk_cgroup, 16, FTW_PHYS) < 0) {
		err = -errno;
		goto out;
	}
	result->processes = held.processes;
	result->unreadable = held.unreadable;

	/* One sock_diag dump per network namespace, at its first holder. */
	for (size_t i = 0; i < held.count; i++) {
		struct mcg_scanned_netns *grown;
		int seen = 0;

		for (size_t j = 0; j < i && !seen; j++)
			seen = held.items[j].netns == held.items[i].netns;
		if (seen)
			continue;
		grown = realloc(result->netns, (result->netns_count + 1) * sizeof(*grown));
		if (!grown) {
			err = -ENOMEM;
			goto out;
		}
		result->netns = grown;
		grown[result->netns_count++] = (struct mcg_scanned_netns){
			.inode = held.items[i].netns, .pid = held.items[i].pid
		};
		err = match_namespace(&held, i, result);
		if (err)
			goto out;
	}
out:
	free(held.items);
	if (err)
		mcg_cgroup_sockets_free(result);
	return err;
}

void mcg_cgroup_sockets_free(struct mcg_cgroup_sockets *result)
{
	free(result->sockets);
	free(result->netns);
	memset(result, 0, sizeof(*result));
}

int mcg_scan_guard(const char *guard_path, __u64 guard_id, const struct mcg_policy *policy,
		   struct mcg_escape **escapes)
{
	struct mcg_cgroup_sockets all;
	int found = 0, err;

	*escapes = NULL;
	err = mcg_scan_cgroup(guard_path, &all);
	if (err)
		return err;
	for (size_t i = 0; i < all.netns_count; i++)
		if (all.netns[i].error)
			pr_warn("list the sockets in the network namespace of pid %d: %s",
				all.netns[i].pid, strerror(all.netns[i].error));
	for (size_t i = 0; i < all.count; i++) {
		struct mcg_escape *grown;
		int bound;

		if (!mcg_sock_escapes(&all.sockets[i].diag, policy, &bound))
			continue;
		grown = realloc(*escapes, (found + 1) * sizeof(*grown));
		if (!grown) {
			free(*escapes);
			*escapes = NULL;
			mcg_cgroup_sockets_free(&all);
			return -ENOMEM;
		}
		*escapes = grown;
		fill_escape(&grown[found++], &all.sockets[i], guard_id, bound);
	}
	mcg_cgroup_sockets_free(&all);
	return found;
}

json_object *mcg_escape_json(const struct mcg_escape *escape)
{
	json_object *obj;

	obj = mcg_event_json(&escape->event, escape->event.time_ns,
			     mcg_cgroup_name_by_id(escape->event.cgroup_id),
			     mcg_cgroup_name_by_id(escape->event.guard_cgroup_id));
	if (!obj)
		return NULL;
	json_object_object_add(obj, "state",
			       json_object_new_string(escape->event.protocol == IPPROTO_UDP &&
							      escape->state == MCG_TCP_CLOSE
						      ? "UNCONN"
						      : mcg_tcp_state_name(escape->state)));
	json_object_object_add(obj, "fd", json_object_new_int(escape->fd));
	if (escape->destroy == MCG_DESTROY_CLOSED)
		json_object_object_add(obj, "destroyed", json_object_new_boolean(1));
	else if (escape->destroy == MCG_DESTROY_SHARED)
		json_object_object_add(obj, "held_outside_by", json_object_new_int(escape->destroy_detail));
	else if (escape->destroy == MCG_DESTROY_FAILED)
		json_object_object_add(obj, "destroy_error",
				       json_object_new_string(strerror(escape->destroy_detail)));
	return obj;
}

void mcg_escapes_print(FILE *out, const struct mcg_escape *escapes, int count, bool json)
{
	char line[512];

	for (int i = 0; i < count; i++) {
		const struct mcg_escape *escape = &escapes[i];

		if (json) {
			json_object *obj = mcg_escape_json(escape);

			if (obj) {
				fprintf(out, "%s\n",
					json_object_to_json_string_ext(
						obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
				json_object_put(obj);
			}
			continue;
		}
		mcg_event_text(&escape->event, escape->event.time_ns,
			       mcg_cgroup_name_by_id(escape->event.cgroup_id), line, sizeof(line));
		fprintf(out, "%s %s fd %d", line,
			escape->event.protocol == IPPROTO_UDP && escape->state == MCG_TCP_CLOSE
				? "UNCONN"
				: mcg_tcp_state_name(escape->state),
			escape->fd);
		if (escape->destroy == MCG_DESTROY_CLOSED)
			fprintf(out, " (closed)");
		else if (escape->destroy == MCG_DESTROY_SHARED)
			fprintf(out, " (not closed: pid %d outside the guard holds it too)",
				escape->destroy_detail);
		else if (escape->destroy == MCG_DESTROY_FAILED)
			fprintf(out, " (close failed: %s)", strerror(escape->destroy_detail));
		fputc('\n', out);
	}
}

/* Send SOCK_DESTROY for one socket of the current namespace; returns 0 or -errno. */
static int destroy_socket(int nl, const struct mcg_diag_sock *sock)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} request = {
		.nlh = { .nlmsg_len = sizeof(request), .nlmsg_type = SOCK_DESTROY,
			 .nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK },
		.req = { .sdiag_family = sock->family, .sdiag_protocol = sock->protocol,
			 .idiag_states = ~0u },
	};
	char buf[512];
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
	ssize_t len;

	request.req.id.idiag_sport = htons(sock->sport);
	request.req.id.idiag_dport = htons(sock->dport);
	memcpy(request.req.id.idiag_src, sock->src, sizeof(sock->src));
	memcpy(request.req.id.idiag_dst, sock->dst, sizeof(sock->dst));
	request.req.id.idiag_if = sock->ifindex;
	request.req.id.idiag_cookie[0] = sock->cookie[0];
	request.req.id.idiag_cookie[1] = sock->cookie[1];

	if (send(nl, &request, sizeof(request), 0) < 0)
		return -errno;
	len = recv(nl, buf, sizeof(buf), 0);
	if (len < 0)
		return -errno;
	if (!NLMSG_OK(nlh, len) || nlh->nlmsg_type != NLMSG_ERROR)
		return -EIO;
	return ((struct nlmsgerr *)NLMSG_DATA(nlh))->error;
}

/*
 * Destroy the sockets of escapes[] with in_batch set, which all live in the
 * network namespace of netns_pid, from a child process inside that
 * namespace. The child writes one result per socket, in order, to a pipe.
 */
static void destroy_in_namespace(int netns_pid, struct mcg_escape *escapes, int count)
{
	int pipe_fds[2], status;
	pid_t child;

	if (pipe2(pipe_fds, O_CLOEXEC))
		return;
	child = fork();
	if (child < 0) {
		close(pipe_fds[0]);
		close(pipe_fds[1]);
		return;
	}
	if (child == 0) {
		char path[64];
		int ns, nl;

		close(pipe_fds[0]);
		snprintf(path, sizeof(path), "/proc/%d/ns/net", netns_pid);
		ns = open(path, O_RDONLY | O_CLOEXEC);
		if (ns < 0 || setns(ns, CLONE_NEWNET))
			_exit(1);
		nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
		for (int i = 0; i < count; i++) {
			int err;

			if (!escapes[i].in_batch)
				continue;
			err = nl < 0 ? -errno : destroy_socket(nl, &escapes[i].diag);
			if (write(pipe_fds[1], &err, sizeof(err)) != sizeof(err))
				_exit(1);
		}
		_exit(0);
	}
	close(pipe_fds[1]);
	for (int i = 0; i < count; i++) {
		int err;

		if (!escapes[i].in_batch)
			continue;
		if (read(pipe_fds[0], &err, sizeof(err)) != sizeof(err))
			err = -EIO;
		escapes[i].destroy = err ? MCG_DESTROY_FAILED : MCG_DESTROY_CLOSED;
		escapes[i].destroy_detail = -err;
	}
	close(pipe_fds[0]);
	waitpid(child, &status, 0);
}

static bool pid_is_guarded(const struct held_list *guarded, __u32 tgid)
{
	for (size_t i = 0; i < guarded->count; i++)
		if ((__u32)guarded->items[i].pid == tgid)
			return true;
	return false;
}

int mcg_scan_destroy(const char *guard_path, struct mcg_escape *escapes, int count)
{
	struct held_list guarded = { 0 };
	struct mcg_holder_record *holders = NULL;
	__u64 *inodes;
	int found, closed = 0;

	if (count <= 0)
		return 0;
	inodes = calloc(count, sizeof(*inodes));
	if (!inodes)
		return -ENOMEM;
	for (int i = 0; i < count; i++)
		inodes[i] = escapes[i].inode;
	found = mcg_find_holders(inodes, count, &holders);
	free(inodes);
	if (found < 0)
		return found;

	/* The guarded processes, from the cgroup.procs files below the guard. */
	walk_list = &guarded;
	nftw(guard_path, walk_cgroup, 16, FTW_PHYS);

	for (int i = 0; i < count; i++) {
		for (int h = 0; h < found; h++) {
			if (holders[h].inode != escapes[i].inode || pid_is_guarded(&guarded, holders[h].tgid))
				continue;
			escapes[i].destroy = MCG_DESTROY_SHARED;
			escapes[i].destroy_detail = holders[h].tgid;
			break;
		}
	}
	free(holders);

	/* One child per namespace; in_batch marks the sockets of the current one. */
	for (int i = 0; i < count; i++) {
		unsigned long netns = 0;

		if (escapes[i].destroy != MCG_DESTROY_NOT_TRIED)
			continue;
		for (size_t g = 0; g < guarded.count; g++)
			if ((__u32)guarded.items[g].pid == escapes[i].event.pid)
				netns = guarded.items[g].netns;
		for (int j = i; j < count; j++) {
			unsigned long other = 0;

			for (size_t g = 0; g < guarded.count; g++)
				if ((__u32)guarded.items[g].pid == escapes[j].event.pid)
					other = guarded.items[g].netns;
			escapes[j].in_batch = escapes[j].destroy == MCG_DESTROY_NOT_TRIED && other == netns;
		}
		destroy_in_namespace(escapes[i].event.pid, escapes, count);
		for (int j = i; j < count; j++)
			escapes[j].in_batch = false;
	}
	free(guarded.items);

	for (int i = 0; i < count; i++)
		closed += escapes[i].destroy == MCG_DESTROY_CLOSED;
	return closed;
}

/* Warn about sockets the new guard cannot judge because they already exist. */
void mcg_scan_report(const struct mcg_cgroup *cg, const struct mcg_policy *policy)
{
	struct mcg_escape *escapes;
	int count = mcg_scan_guard(cg->path, cg->id, policy, &escapes);

	if (count < 0) {
		pr_warn("scan %s for sockets that escaped the guard: %s", cg->path, strerror(-count));
		return;
	}
	if (count > 0) {
		pr_warn("%d socket%s in %s escaped the guard: created before it, the kernel does not re-check them; restart the process that holds them ('mcguard scan' lists them again)",
			count, count == 1 ? "" : "s", cg->rel);
		mcg_escapes_print(stderr, escapes, count, false);
	}
	free(escapes);
}

