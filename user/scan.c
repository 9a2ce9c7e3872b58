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
#include <linux/sock_diag.h>
#include <netinet/in.h>

#include "cgroup.h"
#include "format.h"
#include "holders.h"
#include "log.h"
#include "mcguard_addr.h"
#include "scan.h"

/* TCP states as the kernel numbers them (include/net/tcp_states.h). */
#define STATE_ESTABLISHED 1
#define STATE_CLOSE 7
#define STATE_LISTEN 10

#define LOOPBACK_IFINDEX 1

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

/* Record every socket descriptor of one process. */
static void collect_pid(struct held_list *list, int pid, __u64 cgroup_id)
{
	char path[64], target[64];
	struct held_sock sock = { .pid = pid, .cgroup_id = cgroup_id };
	struct dirent *entry;
	struct stat st;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
	if (stat(path, &st))
		return;
	sock.netns = st.st_ino;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	dir = opendir(path);
	if (!dir)
		return;
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

/* Dump the TCP and UDP sockets of both families in the current namespace to fd. */
static int dump_sockets(int out)
{
	static const __u8 protocols[] = { IPPROTO_TCP, IPPROTO_UDP };
	static const __u8 families[] = { AF_INET, AF_INET6 };
	char buf[32768];
	int nl = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);

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
					struct inet_diag_msg *msg = NLMSG_DATA(nlh);
					struct diag_sock sock = { 0 };

					if (nlh->nlmsg_type == NLMSG_DONE || nlh->nlmsg_type == NLMSG_ERROR) {
						done = 1;
						break;
					}
					sock.family = msg->idiag_family;
					sock.protocol = protocols[p];
					sock.state = msg->idiag_state;
					sock.sport = ntohs(msg->id.idiag_sport);
					sock.dport = ntohs(msg->id.idiag_dport);
					memcpy(sock.src, msg->id.idiag_src, sizeof(sock.src));
					memcpy(sock.dst, msg->id.idiag_dst, sizeof(sock.dst));
					sock.ifindex = msg->id.idiag_if;
					sock.inode = msg->idiag_inode;
					sock.cookie[0] = msg->id.idiag_cookie[0];
					sock.cookie[1] = msg->id.idiag_cookie[1];
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
 * Read the sockets of the network namespace of pid. sock_diag lists only the
 * caller's namespace, so a child process enters it and writes them to a pipe.
 */
static int namespace_sockets(int pid, struct diag_sock **socks, size_t *count)
{
	size_t capacity = 0;
	int pipe_fds[2], status;
	struct diag_sock sock;
	pid_t child;

	*socks = NULL;
	*count = 0;
	if (pipe2(pipe_fds, O_CLOEXEC))
		return -errno;
	child = fork();
	if (child < 0)
		return -errno;
	if (child == 0) {
		char path[64];
		int ns;

		close(pipe_fds[0]);
		snprintf(path, sizeof(path), "/proc/%d/ns/net", pid);
		ns = open(path, O_RDONLY | O_CLOEXEC);
		if (ns < 0 || setns(ns, CLONE_NEWNET))
			_exit(1);
		_exit(dump_sockets(pipe_fds[1]) ? 1 : 0);
	}
	close(pipe_fds[1]);
	while (read(pipe_fds[0], &sock, sizeof(sock)) == sizeof(sock)) {
		if (*count == capacity) {
			struct diag_sock *grown;

			capacity = capacity ? capacity * 2 : 64;
			grown = realloc(*socks, capacity * sizeof(*grown));
			if (!grown)
				break;
			*socks = grown;
		}
		(*socks)[(*count)++] = sock;
	}
	close(pipe_fds[0]);
	waitpid(child, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		pr_warn("list the sockets in the network namespace of pid %d: failed", pid);
		return -EIO;
	}
	return 0;
}

static int is_loopback(const struct diag_sock *sock, const __u32 addr[4])
{
	if (sock->family == AF_INET)
		return mcg_ip4_is_loopback(addr[0]);
	return mcg_ip6_is_loopback_any_form(addr);
}

/*
 * Would the policy allow this socket if it were created now? A listener
 * held to the loopback device is contained, not escaped.
 */
static int is_escaped(const struct diag_sock *sock, const struct mcg_policy *policy, int *bound)
{
	__u8 proto = sock->protocol == IPPROTO_TCP ? MCG_PROTO_TCP : MCG_PROTO_UDP;
	int listening = sock->protocol == IPPROTO_TCP ? sock->state == STATE_LISTEN
						      : sock->state == STATE_CLOSE;

	*bound = listening;
	if (listening) {
		if (is_loopback(sock, sock->src) || sock->ifindex == LOOPBACK_IFINDEX)
			return 0;
		if (sock->family == AF_INET)
			return !mcg_rules_match_ip4(policy->bind, policy->bind_count, sock->src[0],
						    sock->sport, proto);
		return !mcg_rules_match_sock6(policy->bind, policy->bind_count, sock->src,
					      sock->sport, proto);
	}
	if (sock->family == AF_INET) {
		if (mcg_ip4_dest_is_local(sock->dst[0]))
			return 0;
		return !mcg_rules_match_ip4(policy->connect, policy->connect_count, sock->dst[0],
					    sock->dport, proto);
	}
	if (mcg_ip6_dest_is_local(sock->dst))
		return 0;
	return !mcg_rules_match_sock6(policy->connect, policy->connect_count, sock->dst,
				      sock->dport, proto);
}

static void fill_escape(struct mcg_escape *escape, const struct diag_sock *sock,
			const struct held_sock *held, __u64 guard_id, int bound)
{
	struct mcg_event *event = &escape->event;
	const __u32 *addr = bound ? sock->src : sock->dst;
	char path[64];
	struct stat st;
	struct timespec now;
	FILE *f;

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
	snprintf(path, sizeof(path), "/proc/%d/comm", held->pid);
	f = fopen(path, "re");
	if (f) {
		if (fgets(event->comm, sizeof(event->comm), f))
			event->comm[strcspn(event->comm, "\n")] = '\0';
		fclose(f);
	}
	escape->diag = *sock;
	escape->state = sock->state;
	escape->inode = sock->inode;
	escape->fd = held->fd;
}

/* Judge the sockets of one namespace that guarded processes hold. */
static int judge_namespace(const struct held_list *held, size_t first, __u64 guard_id,
			   const struct mcg_policy *policy, struct mcg_escape **escapes, int *found)
{
	struct diag_sock *socks;
	size_t count;
	int err;

	err = namespace_sockets(held->items[first].pid, &socks, &count);
	if (err)
		return err;
	for (size_t s = 0; s < count; s++) {
		for (size_t h = first; h < held->count; h++) {
			struct mcg_escape *grown;
			int bound;

			if (held->items[h].netns != held->items[first].netns ||
			    held->items[h].inode != socks[s].inode)
				continue;
			if (!is_escaped(&socks[s], policy, &bound))
				break;
			grown = realloc(*escapes, (*found + 1) * sizeof(*grown));
			if (!grown) {
				free(socks);
				return -ENOMEM;
			}
			*escapes = grown;
			fill_escape(&grown[(*found)++], &socks[s], &held->items[h], guard_id, bound);
			break; /* one report per socket, for its first holder */
		}
	}
	free(socks);
	return 0;
}

int mcg_scan_guard(const char *guard_path, __u64 guard_id, const struct mcg_policy *policy,
		   struct mcg_escape **escapes)
{
	struct held_list held = { 0 };
	int found = 0, err = 0;

	*escapes = NULL;
	walk_list = &held;
	if (nftw(guard_path, walk_cgroup, 16, FTW_PHYS) < 0) {
		err = -errno;
		goto out;
	}
	/* One sock_diag dump per network namespace, at its first holder. */
	for (size_t i = 0; i < held.count; i++) {
		int seen = 0;

		for (size_t j = 0; j < i && !seen; j++)
			seen = held.items[j].netns == held.items[i].netns;
		if (seen)
			continue;
		err = judge_namespace(&held, i, guard_id, policy, escapes, &found);
		if (err == -ENOMEM)
			goto out;
		err = 0;
	}
out:
	free(held.items);
	if (err) {
		free(*escapes);
		*escapes = NULL;
		return err;
	}
	return found;
}

json_object *mcg_escape_json(const struct mcg_escape *escape)
{
	json_object *obj;

	obj = mcg_event_json(&escape->event, escape->event.time_ns,
			     mcg_cgroup_path_by_id(escape->event.cgroup_id),
			     mcg_cgroup_path_by_id(escape->event.guard_cgroup_id));
	if (!obj)
		return NULL;
	json_object_object_add(obj, "state",
			       json_object_new_string(escape->event.protocol == IPPROTO_UDP &&
							      escape->state == STATE_CLOSE
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
			       mcg_cgroup_path_by_id(escape->event.cgroup_id), line, sizeof(line));
		fprintf(out, "%s %s fd %d", line,
			escape->event.protocol == IPPROTO_UDP && escape->state == STATE_CLOSE
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

