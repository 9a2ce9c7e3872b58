#!/usr/bin/env bash
# mcguard's benchmarks, run by `sudo make bench`: what a guard costs per call,
# against an nftables ruleset and a cgroup_skb filter measured in the same
# run, what its events cost, how it scales to 1000 guards, and the memory of
# 'mcguard daemon'. The C side is .output/bench/mcgbench; BENCHMARKS.md
# explains the method and the results.
#
# Everything the run creates is private to it and removed on exit, also on
# failure or Ctrl-C. That is a cgroup tree below the cgroup2 mount, three
# network namespaces joined by veth pairs with documentation addresses and
# one with only loopback for the daemon, a bpffs directory for the pins, and
# the processes this script started.
# Firewall rules exist only inside the namespaces.
#
# Results go to .output/bench/results/: one TSV per measurement, the
# attached programs per configuration, and report.md with every table.
#
# Environment: MCGUARD, MCGBENCH (the binaries), FLOOR_OBJ (bench/floor.bpf.c
# built), BENCH_CPU (the CPU the timed work runs on, default 1),
# BENCH_QUICK=1 (fewer cycles, for trying the harness; the figures are then
# rough), BENCH_COMPARE (another mcguard
# binary, such as a build of a proposed change: its guard is measured as
# "guard-compare" in the same runs as the others, with its own pin root).
set -uo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MCGUARD=${MCGUARD:-$REPO_ROOT/.output/mcguard}
MCGBENCH=${MCGBENCH:-$REPO_ROOT/.output/bench/mcgbench}
FLOOR_OBJ=${FLOOR_OBJ:-$REPO_ROOT/.output/bench/floor.bpf.o}
RESULTS=$REPO_ROOT/.output/bench/results
CPU=${BENCH_CPU:-1}
QUICK=${BENCH_QUICK:-0}
COMPARE=${BENCH_COMPARE:-}

# bpffs rejects names that contain a dot, so the tag has none.
TAG=mcguard-bench-$$
NS_PLAIN=$TAG-plain
NS_NFT=$TAG-nft
NS_PEER=$TAG-peer
PIN_DIR=/sys/fs/bpf/$TAG
PIN_ROOT=$PIN_DIR/mcguard
COMPARE_PIN_ROOT=$PIN_DIR/compare
# Peers of the bulk transfers: one per veth pair, in the peer namespace.
PEER_PLAIN=192.0.2.2
PEER_NFT=198.51.100.2
SCALE_STEPS=(1 10 100 1000)

CG_MOUNT=""
CG_ROOT=""
STARTED_PIDS=()
START_TIME=$EPOCHREALTIME

if ((QUICK)); then
	OPS_CYCLES=60 BREAKDOWN_CYCLES=60 SCALE_CYCLES=40 BULK_CYCLES=8 DENY_CYCLES=8
	FLOOD_SECONDS=3 LATENCY_SAMPLES=30 FORMAT_TURNS=3
else
	OPS_CYCLES=400 BREAKDOWN_CYCLES=300 SCALE_CYCLES=200 BULK_CYCLES=30 DENY_CYCLES=30
	FLOOD_SECONDS=10 LATENCY_SAMPLES=150 FORMAT_TURNS=7
fi

log() { printf 'bench: %s\n' "$*"; }
die() {
	printf 'bench: error: %s\n' "$*" >&2
	exit 1
}

# Print "MOUNT_POINT FSTYPE" per mount. The type follows the "-" that ends
# the optional fields of /proc/self/mountinfo.
list_mounts() {
	awk '{
		for (i = 7; i <= NF; i++)
			if ($i == "-")
				break
		print $5, $(i + 1)
	}' /proc/self/mountinfo
}

in_ns() {
	local ns=$1
	shift
	nsenter --net="/run/netns/$ns" -- "$@"
}

# Send SIGTERM, wait up to five seconds, then SIGKILL. Only for PIDs this script started.
stop_pid() {
	local pid=$1 i
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null
	kill -CONT "$pid" 2>/dev/null
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

cleanup() {
	local status=$? pid pids i
	trap - EXIT INT TERM

	for pid in "${STARTED_PIDS[@]}"; do
		stop_pid "$pid"
	done
	# Whatever still runs in the bench's cgroups descends from this script.
	if [[ -n $CG_ROOT && -d $CG_ROOT ]]; then
		pids=$(find "$CG_ROOT" -name cgroup.procs -exec cat {} + 2>/dev/null)
		for pid in $pids; do
			kill -KILL "$pid" 2>/dev/null
		done
	fi
	[[ -d $PIN_ROOT ]] && "$MCGUARD" detach --all --pin-root "$PIN_ROOT" >/dev/null 2>&1
	[[ -n $COMPARE && -d $COMPARE_PIN_ROOT ]] &&
		"$COMPARE" detach --all --pin-root "$COMPARE_PIN_ROOT" >/dev/null 2>&1
	# Unpinning a link detaches it, so this also removes the cgroup_skb filter.
	[[ -d $PIN_DIR ]] && rm -rf "$PIN_DIR"

	if [[ -n $CG_ROOT && -d $CG_ROOT ]]; then
		for ((i = 0; i < 50; i++)); do
			find "$CG_ROOT" -depth -type d -exec rmdir {} + 2>/dev/null
			[[ -d $CG_ROOT ]] || break
			sleep 0.1
		done
		[[ -d $CG_ROOT ]] && printf 'bench: could not remove cgroup %s: remove it by hand\n' "$CG_ROOT" >&2
	fi
	ip netns del "$NS_PLAIN" 2>/dev/null
	ip netns del "$NS_NFT" 2>/dev/null
	ip netns del "$NS_PEER" 2>/dev/null
	ip netns del "$NS_DAEMON" 2>/dev/null

	if ((status == 0)); then
		log "done in $(awk -v s="$START_TIME" -v e="$EPOCHREALTIME" 'BEGIN { printf "%.0f", e - s }') s; report: $RESULTS/report.md"
	else
		printf 'bench: failed (status %d); the namespaces, cgroups and pins are removed\n' "$status" >&2
	fi
	exit "$status"
}

check_prerequisites() {
	((EUID == 0)) || die "run as root (sudo make bench): the benchmarks create cgroups, namespaces and BPF programs"
	[[ -x $MCGUARD && -x $MCGBENCH && -f $FLOOR_OBJ ]] ||
		die "$MCGUARD, $MCGBENCH or $FLOOR_OBJ missing: run 'make bench', which builds them"
	[[ -z $COMPARE || -x $COMPARE ]] || die "BENCH_COMPARE=$COMPARE is not an executable mcguard binary"
	CG_MOUNT=$(list_mounts | awk '$2 == "cgroup2" { print $1; exit }')
	[[ -n $CG_MOUNT ]] || die "no cgroup2 filesystem in /proc/self/mountinfo: mount one with 'mount -t cgroup2 none /sys/fs/cgroup'"
	list_mounts | grep -qx '/sys/fs/bpf bpf' || die "no bpffs at /sys/fs/bpf: mount one with 'mount -t bpf bpf /sys/fs/bpf'"
	for cmd in ip nsenter unshare nft bpftool awk; do
		command -v "$cmd" >/dev/null || die "$cmd not found: run bench/deps.sh"
	done
	(($(nproc) > CPU)) || die "BENCH_CPU=$CPU but this machine has $(nproc) CPUs"
}

# ---- setup ----

# The baseline, the guards and the cgroup_skb filter run in the "plain"
# namespace. The nftables ruleset has a namespace of its own, so that its
# hook does not run for the others. The "peer" namespace holds the receivers
# of the bulk transfers.
setup_namespaces() {
	local ns
	for ns in "$NS_PLAIN" "$NS_NFT" "$NS_PEER"; do
		ip netns add "$ns" || die "ip netns add $ns failed"
		ip -n "$ns" link set lo up
	done
	ip link add vb-plain netns "$NS_PLAIN" type veth peer name vp-plain netns "$NS_PEER" &&
		ip link add vb-nft netns "$NS_NFT" type veth peer name vp-nft netns "$NS_PEER" ||
		die "creating the veth pairs failed"
	ip -n "$NS_PLAIN" addr add 192.0.2.1/24 dev vb-plain
	ip -n "$NS_PEER" addr add "$PEER_PLAIN/24" dev vp-plain
	ip -n "$NS_NFT" addr add 198.51.100.1/24 dev vb-nft
	ip -n "$NS_PEER" addr add "$PEER_NFT/24" dev vp-nft
	ip -n "$NS_PLAIN" link set vb-plain up
	ip -n "$NS_NFT" link set vb-nft up
	ip -n "$NS_PEER" link set vp-plain up
	ip -n "$NS_PEER" link set vp-nft up
	# Every TCP cycle leaves a TIME_WAIT socket. Keep them all, so that the
	# cost of a cycle does not change when the table overflows mid-run.
	for ns in "$NS_PLAIN" "$NS_NFT"; do
		in_ns "$ns" sysctl -q -w net.ipv4.tcp_max_tw_buckets=2000000 \
			net.ipv4.ip_local_port_range="1024 65535" >/dev/null ||
			die "setting the TCP sysctls in $ns failed"
	done
}

make_cgroups() {
	local name
	CG_ROOT=$CG_MOUNT/$TAG
	mkdir "$CG_ROOT" || die "mkdir $CG_ROOT failed"
	for name in base base2 guard guard-allow guard-nobackstop nft skb \
		only-sock-addr only-sock-ops only-sock-create only-setsockopt scale \
		floor-create-noop floor-create-lo floor-sock-ops-noop \
		${COMPARE:+guard-compare}; do
		mkdir "$CG_ROOT/$name" || die "mkdir $CG_ROOT/$name failed"
	done
}

attach_guards() {
	mkdir -p "$PIN_DIR"
	"$MCGUARD" attach --pin-root "$PIN_ROOT" "$CG_ROOT/guard" &&
		"$MCGUARD" attach --pin-root "$PIN_ROOT" --allow-connect "$PEER_PLAIN" "$CG_ROOT/guard-allow" &&
		"$MCGUARD" attach --pin-root "$PIN_ROOT" --no-backstop "$CG_ROOT/guard-nobackstop" ||
		die "mcguard attach failed"
	if [[ -n $COMPARE ]]; then
		"$COMPARE" attach --pin-root "$COMPARE_PIN_ROOT" "$CG_ROOT/guard-compare" ||
			die "$COMPARE attach failed"
	fi
}

# The guard's own programs one group at a time, attached by bpftool to cgroups
# of the bench's. Their policy storage starts zeroed, which is the default
# policy (enforce, wildcard binds denied, backstop on).
attach_program_groups() {
	local progs=$PIN_ROOT/v1 pair
	for pair in bind4:mcg_bind4 bind6:mcg_bind6 connect4:mcg_connect4 connect6:mcg_connect6 \
		sendmsg4:mcg_sendmsg4 sendmsg6:mcg_sendmsg6; do
		bpftool cgroup attach "$CG_ROOT/only-sock-addr" "${pair%%:*}" pinned "$progs/${pair#*:}" multi ||
			die "bpftool cgroup attach ${pair%%:*} failed"
	done
	bpftool cgroup attach "$CG_ROOT/only-sock-ops" sock_ops pinned "$progs/mcg_listen" multi &&
		bpftool cgroup attach "$CG_ROOT/only-sock-create" sock_create pinned "$progs/mcg_sock_create" multi &&
		bpftool cgroup attach "$CG_ROOT/only-setsockopt" setsockopt pinned "$progs/mcg_setsockopt" multi ||
		die "bpftool cgroup attach failed"
}

# Programs that do only what the kernel charges for (bench/floor.bpf.c), each
# on a cgroup of its own, loaded and pinned by bpftool.
attach_floor_programs() {
	local progs=$PIN_DIR/floor
	mkdir -p "$progs"
	bpftool prog loadall "$FLOOR_OBJ" "$progs" ||
		die "bpftool prog loadall $FLOOR_OBJ failed"
	bpftool cgroup attach "$CG_ROOT/floor-create-noop" sock_create pinned "$progs/floor_create_noop" multi &&
		bpftool cgroup attach "$CG_ROOT/floor-create-lo" sock_create pinned "$progs/floor_create_lo" multi &&
		bpftool cgroup attach "$CG_ROOT/floor-sock-ops-noop" sock_ops pinned "$progs/floor_sock_ops_noop" multi ||
		die "bpftool cgroup attach of the floor programs failed"
}

# The packet filters allow what guard-allow allows: loopback and the bulk peer.
attach_skb_filter() {
	"$MCGBENCH" skb-attach --cgroup "$CG_ROOT/skb" --pin "$PIN_DIR/skb-egress" \
		--allow 127.0.0.0/8 --allow ::1/128 --allow "$PEER_PLAIN/32" \
		--deny 0.0.0.0/0 --deny ::/0 || die "attaching the cgroup_skb filter failed"
}

nft_ruleset() {
	cat <<EOF
table inet mcguard_bench {
	chain guarded {
		ip daddr 127.0.0.0/8 accept
		ip daddr $PEER_NFT accept
		ip6 daddr ::1 accept
		drop
	}
	chain output {
		type filter hook output priority filter; policy accept;
		socket cgroupv2 level 2 "$TAG/nft" jump guarded
	}
}
EOF
}

# nft resolves a cgroupv2 path below /sys/fs/cgroup. Where the cgroup2 mount
# is elsewhere (a hybrid host), nft runs in a private mount namespace with the
# mount bound there.
load_nft_ruleset() {
	local cmd
	printf -v cmd 'nsenter --net=/run/netns/%q -- nft -f -' "$NS_NFT"
	if [[ $CG_MOUNT != /sys/fs/cgroup ]]; then
		printf -v cmd 'mount --bind %q /sys/fs/cgroup && %s' "$CG_MOUNT" "$cmd"
	fi
	nft_ruleset | unshare -m sh -c "$cmd" || die "loading the nftables ruleset failed"
}

record_configurations() {
	local name
	{
		for name in base base2 guard guard-allow guard-nobackstop nft skb \
			only-sock-addr only-sock-ops only-sock-create only-setsockopt ${COMPARE:+guard-compare}; do
			printf '### %s\n\n```text\n$ bpftool cgroup show %s\n' "$name" "$CG_ROOT/$name"
			bpftool cgroup show "$CG_ROOT/$name"
			printf '```\n\n'
		done
		printf '### nftables ruleset of the nft namespace\n\n```text\n'
		nft_ruleset
		printf '```\n\n### mcguard status\n\n```text\n'
		"$MCGUARD" status --pin-root "$PIN_ROOT" 2>&1 | grep -v '^ *$' | head -n 60
		printf '```\n'
	} >"$RESULTS/configurations.md"
}

record_environment() {
	{
		printf 'date\t%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
		printf 'commit\t%s\n' "$(git -C "$REPO_ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
		printf 'kernel\t%s\n' "$(uname -r)"
		printf 'cpu\t%s\n' "$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
		printf 'cpus\t%s\n' "$(nproc)"
		printf 'memory\t%s\n' "$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
		printf 'os\t%s\n' "$(. /etc/os-release && echo "$PRETTY_NAME")"
		printf 'nft\t%s\n' "$(nft --version)"
		printf 'bpftool\t%s\n' "$(bpftool version | head -n 1)"
		printf 'cgroup2\t%s\n' "$CG_MOUNT"
		printf 'loadavg\t%s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
		printf 'quick\t%s\n' "$QUICK"
		printf 'compare\t%s\n' "${COMPARE:-none}"
	} >"$RESULTS/environment.tsv"
}

# ---- measurements ----

config_arg() { printf '%s:%s:/run/netns/%s%s' "$1" "$CG_ROOT/$2" "$3" "${4:+:$4}"; }

# One --config option, a word per line, for each configuration named in the
# arguments that lives in the plain namespace in the cgroup of its own name.
plain_configs() {
	local name
	for name in "$@"; do
		printf -- '--config\n%s\n' "$(config_arg "$name" "$name" "$NS_PLAIN")"
	done
}

# The --config option of the compared guard, when BENCH_COMPARE is set.
compare_config() {
	[[ -n $COMPARE ]] && printf -- '--config\n%s\n' "$(config_arg guard-compare guard-compare "$NS_PLAIN")"
}

run_ops() {
	log "per-operation cost of each configuration, $OPS_CYCLES cycles per op"
	"$MCGBENCH" ops --cpu "$CPU" --cycles "$OPS_CYCLES" --op bind4,tcp4,udp4,bind6,tcp6,udp6 \
		--raw "$RESULTS/ops-raw.tsv" \
		--config "$(config_arg base base "$NS_PLAIN")" \
		--config "$(config_arg base-again base2 "$NS_PLAIN")" \
		--config "$(config_arg guard guard "$NS_PLAIN")" \
		--config "$(config_arg guard-allow guard-allow "$NS_PLAIN")" \
		--config "$(config_arg nftables nft "$NS_NFT")" \
		--config "$(config_arg cgroup-skb skb "$NS_PLAIN")" \
		$(compare_config) >"$RESULTS/ops.tsv" || die "mcgbench ops failed"
}

run_breakdown() {
	log "per-operation cost by program group, $BREAKDOWN_CYCLES cycles per op"
	"$MCGBENCH" ops --cpu "$CPU" --cycles "$BREAKDOWN_CYCLES" --op bind4,tcp4,udp4 \
		$(plain_configs base guard guard-nobackstop only-sock-addr only-sock-ops \
			only-sock-create only-setsockopt) \
		$(compare_config) >"$RESULTS/breakdown.tsv" || die "mcgbench ops (breakdown) failed"
}

# Measure what the kernel charges for the hooks the guard uses, beside the
# guard's own programs: an empty sock_create program, one that only binds the
# socket to lo, and an empty sock_ops program.
run_floor() {
	log "per-operation cost of the kernel's share, $BREAKDOWN_CYCLES cycles per op"
	"$MCGBENCH" ops --cpu "$CPU" --cycles "$BREAKDOWN_CYCLES" --op bind4,tcp4,udp4 \
		$(plain_configs base floor-create-noop floor-create-lo only-sock-create \
			floor-sock-ops-noop only-sock-ops) \
		>"$RESULTS/floor.tsv" || die "mcgbench ops (floor) failed"
}

run_bulk() {
	local proto
	for proto in tcp udp; do
		log "bulk $proto over veth to an allow-listed peer, $BULK_CYCLES cycles"
		"$MCGBENCH" bulk --proto "$proto" --cpu "$CPU" --receiver-cpu $((CPU == 0 ? 1 : 0)) \
			--cycles "$BULK_CYCLES" --peer-netns "/run/netns/$NS_PEER" \
			--config "$(config_arg base base "$NS_PLAIN" "$PEER_PLAIN")" \
			--config "$(config_arg base-again base2 "$NS_PLAIN" "$PEER_PLAIN")" \
			--config "$(config_arg guard-allow guard-allow "$NS_PLAIN" "$PEER_PLAIN")" \
			--config "$(config_arg nftables nft "$NS_NFT" "$PEER_NFT")" \
			--config "$(config_arg cgroup-skb skb "$NS_PLAIN" "$PEER_PLAIN")" \
			>"$RESULTS/bulk-$proto.tsv" || die "mcgbench bulk $proto failed"
	done
}

# The event measurements run against one guard: EV_BIN attached it under
# EV_PIN_ROOT to cgroup EV_CGROUP, and EV_SUFFIX names its result files.
use_guard() {
	EV_BIN=$1 EV_PIN_ROOT=$2 EV_CGROUP=$3 EV_SUFFIX=$4
}

run_deny() {
	log "denied calls with and without an event, $DENY_CYCLES cycles ($EV_CGROUP)"
	"$MCGBENCH" deny --cpu "$CPU" --cycles "$DENY_CYCLES" --pin-root "$EV_PIN_ROOT" \
		--config "$(config_arg "$EV_CGROUP" "$EV_CGROUP" "$NS_PLAIN")" \
		>"$RESULTS/deny$EV_SUFFIX.tsv" || die "mcgbench deny failed"
}

# Start 'mcguard events --json' with its output to $1 and set READER_PID.
start_reader() {
	"$EV_BIN" events --json --pin-root "$EV_PIN_ROOT" >"$1" 2>>"$RESULTS/events-reader.log" &
	READER_PID=$!
	STARTED_PIDS+=("$READER_PID")
	sleep 0.5
	kill -0 "$READER_PID" 2>/dev/null || die "mcguard events exited: see $RESULTS/events-reader.log"
}

# Peak RSS and CPU seconds of a running process.
process_usage() {
	local pid=$1 ticks
	ticks=$(getconf CLK_TCK)
	awk -v t="$ticks" '{ printf "%.2f", ($14 + $15) / t }' "/proc/$pid/stat"
	printf '\t'
	awk '/VmHWM/ { printf "%d", $2 }' "/proc/$pid/status"
}

run_flood() {
	local args threads rate first=1 usage
	log "event floods of ${FLOOD_SECONDS} s into 'mcguard events --json > /dev/null' ($EV_CGROUP)"
	start_reader /dev/null
	for args in "1 0" "1 1500000" "1 400000" "2 0"; do
		read -r threads rate <<<"$args"
		"$MCGBENCH" flood --seconds "$FLOOD_SECONDS" --threads "$threads" \
			$( ((rate)) && echo --rate "$rate") --pin-root "$EV_PIN_ROOT" \
			--config "$(config_arg "$EV_CGROUP" "$EV_CGROUP" "$NS_PLAIN")" >"$RESULTS/flood.tmp" ||
			die "mcgbench flood failed"
		usage=$(process_usage "$READER_PID")
		if ((first)); then
			printf '%s\treader_cpu_s\treader_peak_rss_kib\n' "$(head -n 1 "$RESULTS/flood.tmp")"
			first=0
		fi
		printf '%s\t%s\n' "$(tail -n 1 "$RESULTS/flood.tmp")" "$usage"
	done >"$RESULTS/flood$EV_SUFFIX.tsv"
	rm -f "$RESULTS/flood.tmp"
	stop_pid "$READER_PID"
}

# Stop the reader, deny a bounded number of calls, resume it, and check that
# the events it printed plus the dropped counter add up to the calls.
run_drops() {
	local calls=200000 out=$RESULTS/drops-events.jsonl printed reported flood
	log "drop accounting with the reader stopped ($calls denied calls, $EV_CGROUP)"
	start_reader "$out"
	kill -STOP "$READER_PID"
	"$MCGBENCH" flood --count "$calls" --pin-root "$EV_PIN_ROOT" \
		--config "$(config_arg "$EV_CGROUP" "$EV_CGROUP" "$NS_PLAIN")" >"$RESULTS/drops-flood.tsv" &
	flood=$!
	STARTED_PIDS+=("$flood")
	# The flood waits for the ring to empty, so resume the reader after the flood filled it.
	sleep 2
	kill -CONT "$READER_PID"
	wait "$flood" || die "mcgbench flood --count failed"
	# The reader reports the dropped counter once a second.
	sleep 2.5
	stop_pid "$READER_PID"
	printed=$(grep -c '"type":"event"' "$out")
	reported=$(grep '"type":"dropped"' "$out" | tail -n 1 | sed -n 's/.*"dropped":\([0-9]*\).*/\1/p')
	# The reader's dropped lines give the guard's running total, so they compare with dropped_total.
	awk -F'\t' -v printed="$printed" -v reported="${reported:-0}" 'NR == 2 {
		printf "calls\tdenied\tdropped\tevents_printed\tprinted_plus_dropped\tdropped_total\tdropped_reported\n"
		printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", $4, $6, $7, printed, printed + $7, $10, reported
	}' "$RESULTS/drops-flood.tsv" >"$RESULTS/drops$EV_SUFFIX.tsv"
	rm -f "$out" "$RESULTS/drops-flood.tsv"
}

run_latency() {
	log "event visibility latency, $LATENCY_SAMPLES samples ($EV_CGROUP)"
	"$MCGBENCH" latency --samples "$LATENCY_SAMPLES" \
		--config "$(config_arg "$EV_CGROUP" "$EV_CGROUP" "$NS_PLAIN")" \
		-- "$EV_BIN" events --json --pin-root "$EV_PIN_ROOT" >"$RESULTS/latency$EV_SUFFIX.tsv" ||
		die "mcgbench latency failed"
}

run_events() {
	run_deny
	run_flood
	run_drops
	run_latency
}

run_format() {
	log "JSON formatting rate on one core"
	"$MCGBENCH" format --cpu "$CPU" --turns "$FORMAT_TURNS" --events 100000 \
		--cgroup "$CG_ROOT/guard" >"$RESULTS/format.tsv" || die "mcgbench format failed"
}

# Print SReclaimable, SUnreclaim, Percpu and VmallocUsed from /proc/meminfo, in KiB.
kernel_memory() {
	awk '/^SReclaimable:/ { r = $2 } /^SUnreclaim:/ { u = $2 } /^Percpu:/ { p = $2 }
		/^VmallocUsed:/ { v = $2 } END { printf "%d\t%d\t%d\t%d", r, u, p, v }' /proc/meminfo
}

# Print the field-wise difference of two kernel_memory outputs.
memory_delta() {
	paste <(tr '\t' '\n' <<<"$1") <(tr '\t' '\n' <<<"$2") |
		awk '{ printf "%s%d", (NR > 1 ? "\t" : ""), $1 - $2 }'
}

scale_name() { printf 'g%04d' "$1"; }

# Guards on 1, 10, 100 and 1000 cgroups: the time of each attach and the
# kernel memory they take. This runs first, before the TCP measurements leave
# TIME_WAIT sockets whose expiry would blur the memory deltas.
run_scale_attach() {
	local have=0 step i start end before after cgroups
	log "scale: attach ${SCALE_STEPS[*]} guards"
	printf 'guards\tadded\tmkdir_sreclaimable_kib\tmkdir_sunreclaim_kib\tmkdir_percpu_kib\tmkdir_vmalloc_kib\tattach_sreclaimable_kib\tattach_sunreclaim_kib\tattach_percpu_kib\tattach_vmalloc_kib\n' \
		>"$RESULTS/scale-memory.tsv"
	printf 'guards\tattach_ms\n' >"$RESULTS/scale-attach.tsv"
	for step in "${SCALE_STEPS[@]}"; do
		before=$(kernel_memory)
		for ((i = have + 1; i <= step; i++)); do
			mkdir "$CG_ROOT/scale/$(scale_name "$i")" || die "mkdir of scale cgroup $i failed"
		done
		after=$(kernel_memory)
		cgroups=$(memory_delta "$after" "$before")
		before=$after
		for ((i = have + 1; i <= step; i++)); do
			start=$EPOCHREALTIME
			"$MCGUARD" attach --pin-root "$PIN_ROOT" "$CG_ROOT/scale/$(scale_name "$i")" 2>/dev/null ||
				die "mcguard attach of scale cgroup $i failed"
			end=$EPOCHREALTIME
			awk -v n="$step" -v s="$start" -v e="$end" 'BEGIN { printf "%d\t%.3f\n", n, (e - s) * 1000 }' \
				>>"$RESULTS/scale-attach.tsv"
		done
		after=$(kernel_memory)
		printf '%d\t%d\t%s\t%s\n' "$step" "$((step - have))" "$cgroups" "$(memory_delta "$after" "$before")" \
			>>"$RESULTS/scale-memory.tsv"
		have=$step
	done
	{
		printf 'object\tmemlock_bytes\n'
		for i in "$PIN_ROOT"/v1/mcg_*; do
			case ${i##*/} in
			mcg_policy | mcg_counters | mcg_events) bpftool map show pinned "$i" ;;
			*) bpftool prog show pinned "$i" ;;
			esac | grep -o 'memlock [0-9]*B' | awk -v n="${i##*/}" '{ sub("B", "", $2); print n "\t" $2 }'
		done
	} >"$RESULTS/memlock.tsv"
}

# Measure the per-call cost for a process in the first guarded cgroup while
# 1000, 100, 10 and 1 guards exist. The others are detached step by step.
run_scale_calls() {
	local have=${SCALE_STEPS[-1]} k step i
	log "scale: per-call cost with ${SCALE_STEPS[-1]} down to 1 guards"
	: >"$RESULTS/scale-ops.tsv"
	for ((k = ${#SCALE_STEPS[@]} - 1; k >= 0; k--)); do
		step=${SCALE_STEPS[k]}
		for ((i = have; i > step; i--)); do
			"$MCGUARD" detach --pin-root "$PIN_ROOT" "$CG_ROOT/scale/$(scale_name "$i")" 2>/dev/null ||
				die "mcguard detach of scale cgroup $i failed"
		done
		have=$step
		"$MCGBENCH" ops --cpu "$CPU" --cycles "$SCALE_CYCLES" --op bind4,tcp4,udp4 --warmup-ms 500 \
			--config "$(config_arg base base "$NS_PLAIN")" \
			--config "$(config_arg "guarded-of-$step" scale/g0001 "$NS_PLAIN")" >"$RESULTS/scale.tmp" ||
			die "mcgbench ops (scale $step) failed"
		awk -v n="$step" 'NR > 1 { print n "\t" $0 }' "$RESULTS/scale.tmp" >>"$RESULTS/scale-ops.tsv"
	done
	rm -f "$RESULTS/scale.tmp"
}

# ---- daemon memory ----

# Guarded cgroups per daemon run, the daemon's network namespace, and the
# loopback address of its metrics endpoint there. The namespace is its own
# because the TCP measurements leave the plain one's ports in TIME_WAIT.
DAEMON_STEPS=(20 200)
NS_DAEMON=$TAG-daemon
DAEMON_METRICS=127.0.0.1:19464
DAEMON_FLOOD_SECONDS=$((QUICK ? 2 : 5))

# Print VmHWM, VmRSS, RssAnon, RssFile and RssShmem of a process, in KiB.
process_memory() {
	awk '/^(VmHWM|VmRSS|RssAnon|RssFile|RssShmem):/ { v[$1] = $2 }
		END { printf "%d\t%d\t%d\t%d\t%d", v["VmHWM:"], v["VmRSS:"], v["RssAnon:"], v["RssFile:"], v["RssShmem:"] }' \
		"/proc/$1/status"
}

# Print, in KiB from /proc/PID/smaps: the resident pages of the BPF map
# mappings, the file pages of shared libraries and the proportional set size.
# The map mapping is the event ring, which libbpf maps with its data pages
# twice. Library file pages can be shared with every process that maps the
# same files, and the libraries' copied-on-write data counts in RssAnon.
mapping_memory() {
	awk '/^[0-9a-f]+-[0-9a-f]+ / { name = (NF >= 6 ? $6 : ""); next }
		/^Rss:/ { if (name ~ /^anon_inode:bpf-map/) ring += $2; else if (name ~ /\.so([.0-9]*)?$/) libs += $2 }
		/^Anonymous:/ { if (name ~ /\.so([.0-9]*)?$/) libs -= $2 }
		/^Pss:/ { pss += $2 }
		END { printf "%d\t%d\t%d", ring, libs, pss }' "/proc/$1/smaps"
}

# Print one row of daemon-memory.tsv for the daemon $1 guarding $2 cgroups.
daemon_memory_row() {
	printf '%d\t%s\t%s\t%s\t%s\t%d\n' "$2" "$3" "$4" "$(process_memory "$1")" "$(mapping_memory "$1")" \
		"$(find "$CG_MOUNT" -type d 2>/dev/null | wc -l)"
}

# Read the metrics endpoint once from inside the daemon's namespace and print the body size in bytes.
scrape_metrics() {
	in_ns "$NS_DAEMON" bash -c 'exec 3<>"/dev/tcp/${1%:*}/${1##*:}" &&
		printf "GET /metrics HTTP/1.0\r\nHost: %s\r\n\r\n" "$1" >&3 && cat <&3' _ "$DAEMON_METRICS" |
		sed '1,/^\r$/d' | wc -c
}

# Start 'mcguard daemon' in its namespace with the arguments $3...,
# wait until it has guarded all $2 cgroups, and set DAEMON_PID. $1 is its log.
start_daemon() {
	local log=$1 guards=$2 i
	shift 2
	# Not in_ns: a function in the background runs in a subshell, and $! must be the daemon.
	nsenter --net="/run/netns/$NS_DAEMON" -- "$MCGUARD" "$@" >/dev/null 2>"$log" &
	DAEMON_PID=$!
	STARTED_PIDS+=("$DAEMON_PID")

	for ((i = 0; i < 300; i++)); do
		grep -q 'started:' "$log" && break
		kill -0 "$DAEMON_PID" 2>/dev/null || die "mcguard daemon exited: see $log"
		sleep 0.05
	done
	grep -q 'started:' "$log" || die "mcguard daemon did not start within 15 s: see $log"
	# nsenter execs the daemon in its own process, so the figures below are the daemon's.
	[[ $(readlink "/proc/$DAEMON_PID/exe") == "$(readlink -f "$MCGUARD")" ]] ||
		die "process $DAEMON_PID is not $MCGUARD: the memory figures would be another process's"
	(($(grep -c 'guarding ' "$log") == guards)) ||
		die "mcguard daemon guarded $(grep -c 'guarding ' "$log") of $guards cgroups: see $log"
}

# Run 'mcguard daemon' on a pin root of its own, guarding $1 new cgroups
# below $CG_ROOT/daemon-$1$2 ($2 is "-metrics" for the run with the
# endpoint, whose text grows with the number of guards). Take its memory once it has guarded them all, and again after a
# flood of denied calls in one of them. The daemon loads the programs itself,
# so VmHWM includes libbpf's load.
run_daemon_once() {
	local guards=$1 suffix=$2 name=daemon-$1$2 i cgroups pin args
	local metrics=${suffix:+yes}
	cgroups=$CG_ROOT/$name
	pin=$PIN_DIR/$name
	mkdir "$cgroups" || die "mkdir $cgroups failed"
	for ((i = 1; i <= guards; i++)); do
		mkdir "$cgroups/$(scale_name "$i")" || die "mkdir of daemon cgroup $i failed"
	done

	# The pattern is relative to the cgroup2 mount and matches only this run's cgroups.
	args=(daemon --match "$TAG/$name/*" --pin-root "$pin" --reconcile 3600)
	[[ -n $metrics ]] && args+=(--metrics "$DAEMON_METRICS")
	start_daemon "$RESULTS/$name.log" "$guards" "${args[@]}"
	sleep 1
	daemon_memory_row "$DAEMON_PID" "$guards" "${metrics:-no}" idle
	if [[ -n $metrics ]]; then
		(($(scrape_metrics) > 0)) || die "the daemon's metrics endpoint returned nothing: see $RESULTS/$name.log"
		daemon_memory_row "$DAEMON_PID" "$guards" "${metrics:-no}" scraped
	fi

	"$MCGBENCH" flood --seconds "$DAEMON_FLOOD_SECONDS" --threads 2 --pin-root "$pin" \
		--config "$(config_arg "$name" "$name/$(scale_name 1)" "$NS_DAEMON")" \
		>"$RESULTS/flood.tmp" || die "mcgbench flood into the daemon failed"
	printf '%d\t%s\t%s\n' "$guards" "${metrics:-no}" "$(tail -n 1 "$RESULTS/flood.tmp" | cut -f1-7)" \
		>>"$RESULTS/daemon-flood.tsv"
	rm -f "$RESULTS/flood.tmp"
	daemon_memory_row "$DAEMON_PID" "$guards" "${metrics:-no}" flood

	stop_pid "$DAEMON_PID"
	"$MCGUARD" detach --all --pin-root "$pin" >/dev/null 2>&1 || die "mcguard detach --all --pin-root $pin failed"
}

run_daemon_memory() {
	local guards
	log "daemon memory: ${DAEMON_STEPS[*]} guarded cgroups, idle and after a ${DAEMON_FLOOD_SECONDS} s flood"
	ip netns add "$NS_DAEMON" && ip -n "$NS_DAEMON" link set lo up || die "ip netns add $NS_DAEMON failed"
	printf 'guards\tmetrics\tthreads\ttarget_rate\tseconds\tcalls\tcalls_per_s\tdenied\tdropped\n' \
		>"$RESULTS/daemon-flood.tsv"
	{
		printf 'guards\tmetrics\tphase\tvmhwm_kib\tvmrss_kib\trss_anon_kib\trss_file_kib\trss_shmem_kib'
		printf '\tring_rss_kib\tlibrary_file_kib\tpss_kib\tcgroups_in_tree\n'
		for guards in "${DAEMON_STEPS[@]}"; do
			run_daemon_once "$guards" ""
			run_daemon_once "$guards" -metrics
		done
	} >"$RESULTS/daemon-memory.tsv"
	ip netns del "$NS_DAEMON"
}

main() {
	check_prerequisites
	trap cleanup EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	rm -rf "$RESULTS"
	mkdir -p "$RESULTS"
	log "tag $TAG, timed work on CPU $CPU$( ((QUICK)) && echo ', quick mode')"

	setup_namespaces
	make_cgroups
	attach_guards
	attach_program_groups
	attach_floor_programs
	attach_skb_filter
	load_nft_ruleset
	record_environment
	record_configurations

	run_scale_attach
	run_ops
	run_breakdown
	run_floor
	run_bulk
	use_guard "$MCGUARD" "$PIN_ROOT" guard ""
	run_events
	if [[ -n $COMPARE ]]; then
		use_guard "$COMPARE" "$COMPARE_PIN_ROOT" guard-compare -compare
		run_events
	fi
	run_format
	run_scale_calls
	run_daemon_memory

	"$REPO_ROOT/bench/report.sh" "$RESULTS" >"$RESULTS/report.md" || die "bench/report.sh failed"
}

main "$@"
