#!/usr/bin/env bash
# Demo of mcguard, run by `sudo make demo`. MailDev, a mail catcher that listens
# on every address by default, runs under `mcguard run` in a throwaway network
# namespace. With the default policy its wildcard binds are denied and it exits.
# With --wildcard loopback the binds are rewritten to loopback, a mail sent over
# loopback arrives, and a peer namespace on a veth pair reaches neither port.
#
# Everything is private to this run and removed on exit, also on failure or
# Ctrl-C: two network namespaces, a cgroup under the cgroup2 mount, a pin root
# under /sys/fs/bpf, and the processes this script started.
# Exit status: 0 when every check held, 1 when one failed, 2 when a
# prerequisite is missing.
#
# Environment: MCGUARD (the binary, default .output/mcguard), MAILDEV (default
# .output/npm/node_modules/.bin/maildev, installed by `make deps`).
set -uo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MCGUARD=${MCGUARD:-$REPO_ROOT/.output/mcguard}
MAILDEV=${MAILDEV:-$REPO_ROOT/.output/npm/node_modules/.bin/maildev}
PYTHON=/usr/bin/python3

# bpffs rejects names that contain a dot, so the tag has none.
TAG=mcguard-demo-$$
GUARDED_NS=$TAG-guarded
PEER_NS=$TAG-peer
GUARDED_IP4=192.0.2.1
PEER_IP4=192.0.2.2
GUARDED_IP6=2001:db8::1
PEER_IP6=2001:db8::2
SMTP_PORT=1025
WEB_PORT=1080
CONTROL_PORT=8080
PIN_ROOT=/sys/fs/bpf/$TAG

CG_MOUNT=""
CG_PARENT=""
WORK_DIR=""
BPFFS_MOUNTED_HERE=0
STARTED_PIDS=()
FAILURES=()
CHECKS=0
EVENTS_SHOWN=0
MAILDEV_API_PATH=/api/email
WEB_BIND=(bind4 0.0.0.0)

heading() { printf '\n=== %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
indent() { sed 's/^/    | /'; }

pass() {
	CHECKS=$((CHECKS + 1))
	printf '    ok: %s\n' "$*"
}

fail() {
	CHECKS=$((CHECKS + 1))
	FAILURES+=("$*")
	printf '    FAILED: %s\n' "$*"
}

# Run a command as a check and record it as passed or failed under the message.
expect() {
	local message=$1
	shift
	if "$@"; then pass "$message"; else fail "$message"; fi
}

die() {
	printf 'demo: %s\n' "$*" >&2
	exit 2
}

in_guarded() { nsenter --net="/run/netns/$GUARDED_NS" -- "$@"; }
in_peer() { ip netns exec "$PEER_NS" "$@"; }

# Print "MOUNT_POINT FSTYPE" for each mount. The type follows the "-" field
# that ends the optional fields of /proc/self/mountinfo.
list_mounts() {
	awk '{
		for (i = 7; i <= NF; i++)
			if ($i == "-")
				break
		print $5, $(i + 1)
	}' /proc/self/mountinfo
}

find_cgroup2_mount() {
	list_mounts | awk '$2 == "cgroup2" { print $1; exit }'
}

is_bpffs_mounted() {
	list_mounts | grep -qx '/sys/fs/bpf bpf'
}

# Send SIGTERM, wait up to five seconds, then SIGKILL. Only for PIDs this script started.
stop_pid() {
	local pid=$1 i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

# Wait up to $2 seconds for background process $1 to exit and store its
# status in EXIT_STATUS. Not usable in a subshell, which cannot wait for it.
wait_exit() {
	local pid=$1 seconds=$2 i
	for ((i = 0; i < seconds * 10; i++)); do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid"
			EXIT_STATUS=$?
			return 0
		fi
		sleep 0.1
	done
	return 1
}

cleanup() {
	local status=$? pid pids i
	trap - EXIT INT TERM
	heading "Clean up"

	for pid in "${STARTED_PIDS[@]}"; do
		stop_pid "$pid"
	done
	# Whatever is left in the demo cgroups descends from this script.
	if [[ -n $CG_PARENT && -d $CG_PARENT ]]; then
		pids=$(find "$CG_PARENT" -name cgroup.procs -exec cat {} + 2>/dev/null)
		for pid in $pids; do
			kill -KILL "$pid" 2>/dev/null
		done
	fi
	if [[ -x $MCGUARD && -d $PIN_ROOT ]]; then
		"$MCGUARD" detach --all --pin-root "$PIN_ROOT" >/dev/null 2>&1
	fi
	# Unpinning a link also detaches it, so this removes any guard left behind.
	[[ -d $PIN_ROOT ]] && rm -rf "$PIN_ROOT"
	if [[ -n $CG_PARENT && -d $CG_PARENT ]]; then
		for ((i = 0; i < 20; i++)); do
			find "$CG_PARENT" -depth -type d -exec rmdir {} + 2>/dev/null
			[[ -d $CG_PARENT ]] || break
			sleep 0.1
		done
		[[ -d $CG_PARENT ]] && printf 'demo: could not remove cgroup %s: remove it by hand\n' "$CG_PARENT" >&2
	fi
	ip netns del "$GUARDED_NS" 2>/dev/null
	ip netns del "$PEER_NS" 2>/dev/null
	((BPFFS_MOUNTED_HERE)) && umount /sys/fs/bpf 2>/dev/null
	[[ -n $WORK_DIR ]] && rm -rf "$WORK_DIR"
	note "removed namespaces, cgroup ${CG_PARENT:-(none)}, pin root $PIN_ROOT"

	if ((status == 0 && ${#FAILURES[@]} == 0)); then
		printf '\ndemo: all %d checks passed\n' "$CHECKS"
		exit 0
	fi
	case $status in
	130) printf '\ndemo: interrupted by SIGINT\n' >&2 ;;
	143) printf '\ndemo: stopped by SIGTERM\n' >&2 ;;
	esac
	if ((${#FAILURES[@]} > 0)); then
		printf '\ndemo: %d of %d checks failed:\n' "${#FAILURES[@]}" "$CHECKS" >&2
		printf '  - %s\n' "${FAILURES[@]}" >&2
	fi
	((status == 0)) && status=1
	exit "$status"
}

# Print the event lines that arrived since the last call.
show_new_events() {
	local total
	total=$(wc -l <"$WORK_DIR/events.log")
	if ((total > EVENTS_SHOWN)); then
		tail -n +"$((EVENTS_SHOWN + 1))" "$WORK_DIR/events.log" | head -n "$((total - EVENTS_SHOWN))" | indent
	else
		note "(no events)"
	fi
	EVENTS_SHOWN=$total
}

# Wait up to five seconds for an event line that contains every given word.
wait_for_event() {
	local i line word matched
	for ((i = 0; i < 50; i++)); do
		while IFS= read -r line; do
			matched=1
			for word in "$@"; do
				[[ $line == *"$word"* ]] || { matched=0; break; }
			done
			((matched)) && return 0
		done <"$WORK_DIR/events.log"
		sleep 0.1
	done
	return 1
}

# Wait up to $1 seconds until the guarded namespace has TCP listeners on all given ports.
wait_for_listeners() {
	local seconds=$1 i port missing
	shift
	for ((i = 0; i < seconds * 5; i++)); do
		missing=0
		for port in "$@"; do
			[[ -n $(in_guarded ss -Htln "sport = :$port") ]] || missing=1
		done
		((missing)) || return 0
		sleep 0.2
	done
	return 1
}

# Succeed when every TCP listener on the given port in the guarded namespace is on loopback.
# ss prints "127.0.0.1%lo:1080" for a socket that the backstop holds to lo.
listeners_on_loopback_only() {
	local port=$1 address
	while read -r address; do
		address=${address/\%lo:/:}
		case $address in
		127.*:"$port" | "[::1]:$port" | "[::ffff:127."*"]:$port") ;;
		*) return 1 ;;
		esac
	done < <(in_guarded ss -Htln "sport = :$port" | awk '{ print $4 }')
}

no_run_cgroups_left() {
	[[ -z $(find "$CG_PARENT" -mindepth 1 -maxdepth 1 -type d -name 'run-*') ]]
}

# Scan the given ports of $1 from the peer namespace, show nmap's report, and
# store the result as "port/state" lines in PORT_STATES.
scan_from_peer() {
	local target=$1 ports=$2 family=() grepable=$WORK_DIR/nmap.gnmap
	[[ $target == *:* ]] && family=(-6)
	in_peer nmap "${family[@]}" -Pn -n --host-timeout 30s -p "$ports" -oG "$grepable" "$target" 2>&1 |
		grep -E '^(PORT|[0-9]+/)' | indent
	PORT_STATES=$(grep -o 'Ports: .*' "$grepable" | tr ',' '\n' |
		sed -E 's/^(Ports: )?[[:space:]]*([0-9]+)\/([a-z|]+)\/.*/\2\/\3/')
}

# Try a TCP connect from the peer namespace and print the outcome.
peer_connect() {
	local host=$1 port=$2 output
	output=$(in_peer timeout 5 bash -c "exec 3<>/dev/tcp/$host/$port" 2>&1)
	case $? in
	0) echo connected ;;
	124) echo "timed out" ;;
	*) echo "failed: ${output##*: }" ;;
	esac
}

check_prerequisites() {
	((EUID == 0)) || die "run as root: sudo make demo"
	[[ -x $MCGUARD ]] || die "$MCGUARD not found: build it with make"
	[[ -x $MAILDEV ]] || die "$MAILDEV not found: install MailDev with make deps"
	local cmd
	for cmd in ip nsenter ss swaks nmap curl node "$PYTHON"; do
		command -v "$cmd" >/dev/null || die "$cmd not found: install the dependencies with make deps"
	done

	CG_MOUNT=$(find_cgroup2_mount)
	[[ -n $CG_MOUNT ]] || die "no cgroup2 mount in /proc/self/mountinfo: mount one (mount -t cgroup2 none /sys/fs/cgroup) and run again"
	if ! is_bpffs_mounted; then
		mount -t bpf bpf /sys/fs/bpf ||
			die "mounting bpffs on /sys/fs/bpf failed: check that the kernel has CONFIG_BPF_SYSCALL, mount it by hand and run again"
		BPFFS_MOUNTED_HERE=1
	fi
}

# MailDev 3 binds its web server to 0.0.0.0 and serves its REST API under /api.
# MailDev 2 binds the web server to "::", like SMTP, and serves the API at the root.
read_maildev_version() {
	local version
	version=$(cd "$WORK_DIR" && "$MAILDEV" --version 2>/dev/null)
	[[ $version =~ ^[0-9]+\. ]] || die "$MAILDEV --version printed '$version', not a version: reinstall MailDev with make deps"
	if ((${version%%.*} >= 3)); then
		MAILDEV_API_PATH=/api/email
		WEB_BIND=(bind4 0.0.0.0)
	else
		MAILDEV_API_PATH=/email
		WEB_BIND=(bind6 ::)
	fi
	note "MailDev $version"
}

set_up() {
	heading "Set up: namespaces, cgroup, pin root"
	WORK_DIR=$(mktemp -d "/tmp/$TAG.XXXXXX") || die "creating a temporary directory in /tmp failed"
	mkdir "$WORK_DIR/empty"

	ip netns add "$GUARDED_NS" || die "ip netns add $GUARDED_NS failed"
	ip netns add "$PEER_NS" || die "ip netns add $PEER_NS failed"
	ip -n "$GUARDED_NS" link add veth-guarded type veth peer name veth-peer netns "$PEER_NS" ||
		die "creating the veth pair failed: the kernel needs veth support"
	ip -n "$GUARDED_NS" addr add "$GUARDED_IP4/24" dev veth-guarded
	ip -n "$GUARDED_NS" addr add "$GUARDED_IP6/64" dev veth-guarded nodad
	ip -n "$PEER_NS" addr add "$PEER_IP4/24" dev veth-peer
	ip -n "$PEER_NS" addr add "$PEER_IP6/64" dev veth-peer nodad
	local ns
	for ns in "$GUARDED_NS" "$PEER_NS"; do
		ip -n "$ns" link set lo up
	done
	ip -n "$GUARDED_NS" link set veth-guarded up
	ip -n "$PEER_NS" link set veth-peer up
	note "guarded namespace $GUARDED_NS: $GUARDED_IP4, $GUARDED_IP6"
	note "peer namespace    $PEER_NS: $PEER_IP4, $PEER_IP6"

	CG_PARENT=$CG_MOUNT/$TAG
	mkdir "$CG_PARENT" || die "mkdir $CG_PARENT failed"
	mkdir -p "$PIN_ROOT" || die "mkdir $PIN_ROOT failed"
	note "cgroup parent $CG_PARENT"
	note "pin root      $PIN_ROOT"
	note "$("$MCGUARD" --version 2>&1)"
	read_maildev_version
}

start_events() {
	heading "Start: mcguard events --pin-root $PIN_ROOT"
	"$MCGUARD" events --pin-root "$PIN_ROOT" >"$WORK_DIR/events.log" 2>"$WORK_DIR/events.err" &
	STARTED_PIDS+=($!)
	sleep 0.5
	if kill -0 "$!" 2>/dev/null; then
		pass "mcguard events is running (pid $!)"
	else
		indent <"$WORK_DIR/events.err"
		fail "mcguard events exited at start"
	fi
}

start_control_listener() {
	heading "Start: an unguarded listener on [::]:$CONTROL_PORT in the guarded namespace"
	note "It shows that the peer can reach the guarded namespace at all."
	nsenter --net="/run/netns/$GUARDED_NS" -- \
		"$PYTHON" -m http.server --bind :: --directory "$WORK_DIR/empty" "$CONTROL_PORT" \
		>"$WORK_DIR/control.log" 2>&1 &
	STARTED_PIDS+=($!)
	expect "control listener is up on port $CONTROL_PORT" wait_for_listeners 10 "$CONTROL_PORT"
}

run_maildev_denied() {
	heading "MailDev under mcguard run, default policy (wildcard binds denied)"
	note "\$ mcguard run --parent $CG_PARENT -- maildev"
	local status
	(cd "$WORK_DIR" && timeout 30 nsenter --net="/run/netns/$GUARDED_NS" -- \
		"$MCGUARD" run --pin-root "$PIN_ROOT" --parent "$CG_PARENT" -- "$MAILDEV") \
		>"$WORK_DIR/maildev-denied.log" 2>&1
	status=$?
	indent <"$WORK_DIR/maildev-denied.log"
	note "exit status $status"

	expect "MailDev exited with a failure status" test "$status" -ne 0 -a "$status" -ne 124 -a "$status" -ne 125
	expect "MailDev reported EPERM for its listen call" grep -q 'EPERM' "$WORK_DIR/maildev-denied.log"
	expect "mcguard run printed the guarded cgroup" grep -q "mcguard: guarding " "$WORK_DIR/maildev-denied.log"
	expect "an event says: bind6 to :: port $SMTP_PORT denied for node" \
		wait_for_event bind6 denied ":$SMTP_PORT" node
	heading "Events so far"
	show_new_events
	expect "mcguard run removed its cgroup after MailDev exited" no_run_cgroups_left
}

start_maildev_loopback() {
	heading "MailDev under mcguard run --wildcard loopback"
	note "\$ mcguard run --wildcard loopback --parent $CG_PARENT -- maildev"
	(cd "$WORK_DIR" && exec nsenter --net="/run/netns/$GUARDED_NS" -- \
		"$MCGUARD" run --pin-root "$PIN_ROOT" --parent "$CG_PARENT" --wildcard loopback -- "$MAILDEV") \
		>"$WORK_DIR/maildev-loopback.log" 2>&1 &
	MAILDEV_RUN_PID=$!
	STARTED_PIDS+=("$MAILDEV_RUN_PID")

	if wait_for_listeners 30 "$SMTP_PORT" "$WEB_PORT"; then
		pass "MailDev listens on ports $SMTP_PORT and $WEB_PORT"
	else
		indent <"$WORK_DIR/maildev-loopback.log"
		fail "MailDev did not listen on ports $SMTP_PORT and $WEB_PORT within 30 s"
		return 1
	fi
	indent <"$WORK_DIR/maildev-loopback.log"
	expect "an event says: bind6 to :: port $SMTP_PORT rewritten" wait_for_event bind6 rewritten ":$SMTP_PORT"
	expect "an event says: ${WEB_BIND[0]} to ${WEB_BIND[1]} port $WEB_PORT rewritten" \
		wait_for_event "${WEB_BIND[0]}" rewritten ":$WEB_PORT"
	heading "Events so far"
	show_new_events

	heading "mcguard status"
	"$MCGUARD" status --pin-root "$PIN_ROOT" 2>&1 | indent

	heading "ss -tlnp in the guarded namespace"
	in_guarded ss -tlnp | indent
	expect "port $SMTP_PORT listens on loopback only" listeners_on_loopback_only "$SMTP_PORT"
	expect "port $WEB_PORT listens on loopback only" listeners_on_loopback_only "$WEB_PORT"
}

send_and_read_mail() {
	local subject="mcguard demo $$"
	heading "Send a mail with swaks to 127.0.0.1:$SMTP_PORT"
	in_guarded swaks --server 127.0.0.1 --port "$SMTP_PORT" --helo localhost --timeout 10 --suppress-data \
		--from demo@example.test --to inbox@example.test \
		--header "Subject: $subject" --body "Sent over loopback to a guarded MailDev." \
		>"$WORK_DIR/swaks.log" 2>&1
	local status=$?
	indent <"$WORK_DIR/swaks.log"
	expect "swaks delivered the mail (exit status $status)" test "$status" -eq 0

	heading "Read it back: curl http://127.0.0.1:$WEB_PORT$MAILDEV_API_PATH"
	in_guarded curl -sS --max-time 5 "http://127.0.0.1:$WEB_PORT$MAILDEV_API_PATH" >"$WORK_DIR/inbox.json" 2>&1
	"$PYTHON" -c '
import json, sys
for mail in json.load(open(sys.argv[1])):
    to = ", ".join(a.get("address", "") for a in mail.get("to", []))
    sender = ", ".join(a.get("address", "") for a in mail.get("from", []))
    subject = mail.get("subject")
    print(f"from {sender} to {to}: {subject}")
' "$WORK_DIR/inbox.json" 2>&1 | indent
	expect "MailDev's HTTP API returns the mail" grep -qF "\"subject\":\"$subject\"" "$WORK_DIR/inbox.json"
}

check_peer() {
	local target states port
	for target in "$GUARDED_IP4" "$GUARDED_IP6"; do
		heading "From the peer namespace: nmap -Pn -p $SMTP_PORT,$WEB_PORT,$CONTROL_PORT $target"
		scan_from_peer "$target" "$SMTP_PORT,$WEB_PORT,$CONTROL_PORT"
		states=$PORT_STATES
		for port in "$SMTP_PORT" "$WEB_PORT"; do
			expect "MailDev port $port is not open at $target" \
				grep -qE "^$port/(closed|filtered)" <<<"$states"
		done
		expect "control port $CONTROL_PORT is open at $target" grep -qx "$CONTROL_PORT/open" <<<"$states"

		for port in "$SMTP_PORT" "$WEB_PORT"; do
			local result
			result=$(peer_connect "$target" "$port")
			note "connect $target port $port from the peer: $result"
			expect "a plain connect to $target port $port fails" test "$result" != connected
		done
	done
}

stop_maildev() {
	heading "Stop MailDev (SIGTERM to mcguard run, which forwards it)"
	kill -TERM "$MAILDEV_RUN_PID" 2>/dev/null
	if wait_exit "$MAILDEV_RUN_PID" 15; then
		note "mcguard run exited with status $EXIT_STATUS"
		pass "mcguard run exited after SIGTERM"
	else
		fail "mcguard run did not exit within 15 s of SIGTERM"
		return 1
	fi
	tail -n 3 "$WORK_DIR/maildev-loopback.log" | indent
	expect "mcguard run removed its cgroup" no_run_cgroups_left
}

main() {
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM

	check_prerequisites
	set_up
	start_events
	start_control_listener
	run_maildev_denied
	if start_maildev_loopback; then
		send_and_read_mail
		check_peer
		stop_maildev
	fi
	heading "All events"
	EVENTS_SHOWN=0
	show_new_events
}

main "$@"
