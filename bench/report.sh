#!/usr/bin/env bash
# Turn the TSV files of one bench/run.sh run into report.md on stdout:
# the machine, the targets with measured values, and every table.
# Usage: bench/report.sh RESULTS_DIR
set -euo pipefail

DIR=${1:?usage: bench/report.sh RESULTS_DIR}
cd "$DIR"

env_value() { awk -F'\t' -v k="$1" '$1 == k { print $2 }' environment.tsv; }

# Print column $3 of the row of TSV file $1 whose first columns equal the tab-separated key $2.
lookup() {
	awk -F'\t' -v key="$2" -v col="$3" '
		NR == 1 { for (i = 1; i <= NF; i++) index_of[$i] = i; next }
		{
			n = split(key, parts, "\t"); hit = 1
			for (i = 1; i <= n; i++) if ($i != parts[i]) hit = 0
			if (hit) { print $(index_of[col]); exit }
		}' "$1"
}

# Print "met" when value $1 <= limit $2, otherwise by how much it missed.
verdict() {
	awk -v v="$1" -v l="$2" 'BEGIN {
		if (v == "") print "not measured"
		else if (v + 0 <= l + 0) print "met"
		else printf "missed by %.0f%%\n", (v - l) / l * 100
	}'
}

ops_table() {
	local file=$1
	shift
	local op
	for op in "$@"; do
		printf '\n**%s**\n\n' "$op"
		printf '| configuration | CPU ns/op | Δ vs base (median) | 95%% CI of Δ | IQR of per-cycle Δ | ratio | wall-clock Δ | blocks preempted |\n'
		printf '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n'
		awk -F'\t' -v op="$op" '
			NR > 1 && $1 == op && $3 == "wall" { wall[$2] = $7 }
			NR > 1 && $1 == op && $3 == "cpu" { order[++n] = $2; row[$2] = $0 }
			END {
				for (i = 1; i <= n; i++) {
					split(row[order[i]], f, "\t")
					printf "| %s | %.0f | %+.0f | %+.0f … %+.0f | %+.0f … %+.0f | %.3f | %+.0f | %d |\n",
						f[2], f[6], f[7], f[8], f[9], f[10], f[11], f[12], wall[f[2]], f[13]
				}
			}' "$file"
	done
}

section_environment() {
	cat <<EOF
# mcguard benchmark report

| | |
| --- | --- |
| date | $(env_value date) |
| commit | $(env_value commit) |
| kernel | $(env_value kernel) |
| CPU | $(env_value cpu), $(env_value cpus) CPUs |
| memory | $(env_value memory) |
| OS | $(env_value os) |
| tools | $(env_value nft); $(env_value bpftool) |
| cgroup2 mount | $(env_value cgroup2) |
| load average at start | $(env_value loadavg) |
| quick mode | $(env_value quick) |

Command: \`sudo make bench\` (bench/run.sh). Every Δ is against \`base\`, an
unguarded cgroup measured in the same cycles; \`base-again\` is a second
unguarded cgroup and shows the noise floor.
EOF
}

section_targets() {
	local bind4 bind6 tcp4 udp4 skb_udp4 bulk_ci_low bulk_ci_high bulk_diff event_diff
	local flood_best flood_rate flood_drops json latency_max drops_ok attach_median attach_max
	bind4=$(lookup ops.tsv $'bind4\tguard\tcpu' diff_ns)
	bind6=$(lookup ops.tsv $'bind6\tguard\tcpu' diff_ns)
	tcp4=$(lookup ops.tsv $'tcp4\tguard\tcpu' diff_ns)
	udp4=$(lookup ops.tsv $'udp4\tguard\tcpu' diff_ns)
	skb_udp4=$(lookup ops.tsv $'udp4\tcgroup-skb\tcpu' diff_ns)
	bulk_diff=$(lookup bulk-udp.tsv $'udp\tguard-allow' diff_ns)
	bulk_ci_low=$(lookup bulk-udp.tsv $'udp\tguard-allow' diff_ci_low)
	bulk_ci_high=$(lookup bulk-udp.tsv $'udp\tguard-allow' diff_ci_high)
	event_diff=$(lookup deny.tsv event diff_ns)
	# The highest delivered rate of a flood without drops, and the flood at a 1.5 M/s target.
	flood_best=$(awk -F'\t' 'NR > 1 && $7 == 0 && ($6 - $7) / $3 > best { best = ($6 - $7) / $3; threads = $1 }
		END { printf "%.0f\t%d", best, threads }' flood.tsv)
	flood_rate=$(awk -F'\t' 'NR > 1 && $1 == 1 && $2 == 1500000 { printf "%.0f", ($6 - $7) / $3 }' flood.tsv)
	flood_drops=$(awk -F'\t' 'NR > 1 && $1 == 1 && $2 == 1500000 { print $7 }' flood.tsv)
	json=$(lookup format.tsv json-as-shipped events_per_s)
	json_c=$(lookup format.tsv json-c-line-buffered events_per_s)
	latency_max=$(lookup latency.tsv "" max_ms)
	drops_ok=$(awk -F'\t' 'NR == 2 { print ($2 == $1 && $5 == $1 && $7 == $6) ? "exact" : "not exact" }' drops.tsv)
	read -r attach_median attach_max < <(tail -n +2 scale-attach.tsv | cut -f2 | sort -n |
		awk '{ v[++n] = $1 } END { printf "%.1f %.1f\n", v[int((n + 1) / 2)], v[n] }')

	cat <<EOF

## Targets

| target | measured | verdict |
| --- | --- | --- |
| bind: ≤100 ns added per operation (bind4; bind6) | ${bind4} ns; ${bind6} ns | $(verdict "$bind4" 100); $(verdict "$bind6" 100) |
| connect: ≤100 ns added per TCP connect+accept+close (tcp4) | ${tcp4} ns | $(verdict "$tcp4" 100) |
| unconnected UDP send: ≤150 ns added, and below the cgroup_skb filter | ${udp4} ns (cgroup_skb: ${skb_udp4} ns) | $(verdict "$udp4" 150)$(awk -v a="$udp4" -v b="$skb_udp4" 'BEGIN { print (a + 0 < b + 0) ? ", below cgroup_skb" : ", not below cgroup_skb" }') |
| per-packet cost of the guard on a bulk transfer: zero | ${bulk_diff} ns per packet, 95% CI ${bulk_ci_low} … ${bulk_ci_high} | $(awk -v l="$bulk_ci_low" -v h="$bulk_ci_high" 'BEGIN { print (l <= 0 && h >= 0) ? "met (CI contains 0)" : "missed (CI excludes 0)" }') |
| denied call with an event: ≤200 ns above one without | ${event_diff} ns | $(verdict "$event_diff" 200) |
| ≥1.5 million denied events/s delivered, zero drops, 10 s flood, 4 MiB ring | ${flood_best%%$'\t'*} events/s without drops (${flood_best##*$'\t'} flooding thread(s), as fast as they could); ${flood_rate} events/s at a 1.5 M/s target, ${flood_drops} dropped | $(awk -v r="${flood_best%%$'\t'*}" 'BEGIN { if (r >= 1500000) print "met"; else printf "missed: %.0f%% of the rate\n", r / 15000 }') |
| JSON formatting ≥1 million events/s on one core | ${json} events/s ($(awk -v a="$json" -v b="$json_c" 'BEGIN { printf "%.1f", a / b }')× the json-c baseline in the same run) | $(awk -v r="$json" 'BEGIN { if (r >= 1000000) print "met"; else printf "missed: %.0f%% of the rate\n", r / 10000 }') |
| events visible within 50 ms | max ${latency_max} ms | $(verdict "$latency_max" 50) |
| drops counted exactly while the reader is stopped | printed + dropped vs calls: ${drops_ok} | $([[ $drops_ok == exact ]] && echo met || echo missed) |
| attach time per guard ≤20 ms | median ${attach_median} ms, max ${attach_max} ms over 1000 attaches | $(verdict "$attach_median" 20) (median) |
$(daemon_target_row)
EOF
}

section_ops() {
	printf '\n## Per-operation cost (loopback)\n\n'
	printf 'CPU time of the calling thread per operation, median over cycles; Δ is the\n'
	printf 'median of the per-cycle differences to base. Blocks preempted counts blocks\n'
	printf 'in which another task ran on the CPU (wall-clock time includes it, CPU time\n'
	printf 'does not).\n'
	ops_table ops.tsv bind4 tcp4 udp4 bind6 tcp6 udp6
	printf '\n## Where the guard'\''s cost comes from\n\n'
	printf 'Each only-* configuration carries one group of the guard'\''s own programs,\n'
	printf 'attached with bpftool, with the default policy.\n'
	ops_table breakdown.tsv bind4 tcp4 udp4
	printf '\n## The kernel'\''s share\n\n'
	printf 'Programs of bench/floor.bpf.c that do only what the kernel charges for,\n'
	printf 'beside the guard'\''s own: floor-create-noop runs an empty sock_create\n'
	printf 'program, floor-create-lo one that only binds the socket to lo, and\n'
	printf 'floor-sock-ops-noop an empty sock_ops program.\n'
	ops_table floor.tsv bind4 tcp4 udp4
}

section_bulk() {
	local proto
	printf '\n## Bulk transfer over a veth pair to an allow-listed peer\n'
	for proto in tcp udp; do
		printf '\n**%s**\n\n' "$proto"
		printf '| configuration | packets per block | CPU ns per packet | Δ per packet | 95%% CI of Δ | IQR of per-cycle Δ | ratio | Gbit/s |\n'
		printf '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n'
		awk -F'\t' 'NR > 1 { printf "| %s | %d | %.0f | %+.0f | %+.0f … %+.0f | %+.0f … %+.0f | %.3f | %.2f |\n",
			$2, $4, $5, $6, $7, $8, $9, $10, $11, $12 }' "bulk-$proto.tsv"
	done
}

# Print the event tables of one guard: $1 is the suffix of its files, $2 its name.
event_tables() {
	local suffix=$1
	printf '\n### Events of %s\n\n' "$2"
	printf '| variant | CPU ns per denied call | Δ vs ring-full (no event) | 95%% CI of Δ | IQR of per-cycle Δ |\n'
	printf '| --- | ---: | ---: | ---: | ---: |\n'
	awk -F'\t' 'NR > 1 { printf "| %s | %.0f | %+.0f | %+.0f … %+.0f | %+.0f … %+.0f |\n",
		$1, $4, $5, $6, $7, $8, $9 }' "deny$suffix.tsv"

	printf '\n**Floods into `mcguard events --json > /dev/null`**\n\n'
	printf '| threads | target rate | denied calls/s | events delivered/s | dropped | reader CPU s (cumulative) | reader peak RSS |\n'
	printf '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n'
	awk -F'\t' 'NR > 1 { printf "| %d | %s | %.0f | %.0f | %d | %.1f | %.1f MiB |\n",
		$1, ($2 == 0 ? "as fast as possible" : $2 "/s"), $5, ($6 - $7) / $3, $7, $11, $12 / 1024 }' "flood$suffix.tsv"

	printf '\n**Drop accounting with the reader stopped**\n\n'
	printf '| calls | denied (counter Δ) | dropped (counter Δ) | events printed | printed + dropped | dropped counter total | last "dropped" line |\n'
	printf '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n'
	awk -F'\t' 'NR > 1 { printf "| %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7 }' "drops$suffix.tsv"

	printf '\n**Visibility latency** (denied call to its line on the reader'\''s stdout)\n\n'
	printf '| samples | lost | median | p90 | max |\n| ---: | ---: | ---: | ---: | ---: |\n'
	awk -F'\t' 'NR > 1 { printf "| %s | %s | %s ms | %s ms | %s ms |\n", $1, $2, $3, $4, $5 }' "latency$suffix.tsv"
}

section_events() {
	printf '\n## Denied calls and events\n'
	event_tables "" guard
	[[ -f deny-compare.tsv ]] && event_tables -compare "guard-compare ($(env_value compare))"
	printf '\n### Formatting rate on one core (synthetic events through user/format.c)\n\n'
	printf '| mode | events/s (median) | min | max | ns per event |\n| --- | ---: | ---: | ---: | ---: |\n'
	awk -F'\t' 'NR > 1 { printf "| %s | %d | %d | %d | %d |\n", $1, $4, $5, $6, $7 }' format.tsv
}

section_scale() {
	printf '\n## Scale\n\n'
	printf '**Attach time** of `mcguard attach` per guard (the whole command)\n\n'
	printf '| guards after the step | attaches | median | p90 | max |\n| ---: | ---: | ---: | ---: | ---: |\n'
	local step
	for step in $(tail -n +2 scale-attach.tsv | cut -f1 | sort -nu); do
		awk -F'\t' -v s="$step" 'NR > 1 && $1 == s { print $2 }' scale-attach.tsv | sort -n |
			awk -v s="$step" '{ a[++c] = $1 } END {
				printf "| %d | %d | %.1f ms | %.1f ms | %.1f ms |\n", s, c,
					a[int((c + 1) / 2)], a[int(0.9 * (c - 1)) + 1], a[c]
			}'
	done

	printf '\n**Kernel memory** from /proc/meminfo deltas (KiB): creating the cgroups, then attaching the guards\n\n'
	printf '| guards after the step | added | mkdir: SReclaimable | SUnreclaim | Percpu | Vmalloc | attach: SReclaimable | SUnreclaim | Percpu | Vmalloc | attach per guard |\n'
	printf '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n'
	awk -F'\t' 'NR > 1 { printf "| %d | %d | %d | %d | %d | %d | %d | %d | %d | %d | %.1f KiB |\n",
		$1, $2, $3, $4, $5, $6, $7, $8, $9, $10, ($7 + $8 + $9 + $10) / $2 }' scale-memory.tsv
	printf '\n**memlock** of the shared programs and maps (bpftool; one set per pin root)\n\n'
	printf '| object | memlock |\n| --- | ---: |\n'
	awk -F'\t' 'NR > 1 { printf "| %s | %d B |\n", $1, $2 }' memlock.tsv

	printf '\n**Per-call cost in one of N guarded cgroups** (CPU ns, Δ vs base)\n\n'
	printf '| guards | bind4 Δ | 95%% CI | tcp4 Δ | 95%% CI | udp4 Δ | 95%% CI |\n| ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n'
	for step in $(cut -f1 scale-ops.tsv | sort -nu); do
		awk -F'\t' -v s="$step" '$1 == s && $4 == "cpu" && $3 != "base" {
				d[$2] = sprintf("%+.0f | %+.0f … %+.0f", $8, $9, $10)
			}
			END { printf "| %d | %s | %s | %s |\n", s, d["bind4"], d["tcp4"], d["udp4"] }' scale-ops.tsv
	done
}

# The target row of the daemon's memory: the largest VmRSS over the runs of daemon-memory.tsv.
daemon_target_row() {
	local row rss hwm anon ring libs steps
	if [[ ! -s daemon-memory.tsv ]]; then
		printf '| daemon RSS ≤8 MiB | not measured in this run | not measured |\n'
		return
	fi
	# VmRSS, VmHWM, RssAnon, ring and library file pages of the row with the largest VmRSS.
	row=$(awk -F'\t' 'NR > 1 && $5 > max { max = $5; row = $5 " " $4 " " $6 " " $9 " " $10 }
		END { print row }' daemon-memory.tsv)
	read -r rss hwm anon ring libs <<<"$row"
	steps=$(awk -F'\t' 'NR > 1 { print $1 }' daemon-memory.tsv | sort -nu | paste -sd/)
	awk -v rss="$rss" -v hwm="$hwm" -v anon="$anon" -v ring="$ring" -v libs="$libs" \
		-v steps="$steps" -v verdict="$(verdict "$rss" 8192)" 'BEGIN {
		printf "| daemon RSS ≤8 MiB | VmRSS up to %.1f MiB (VmHWM %.1f MiB) with %s guards, idle and after a flood. Of it: the event ring mapping %.1f MiB, shared library file pages %.1f MiB, private (RssAnon) %.1f MiB; without the ring mapping %.1f MiB | %s |\n",
			rss / 1024, hwm / 1024, steps, ring / 1024, libs / 1024, anon / 1024, (rss - ring) / 1024, verdict
	}'
}

section_daemon() {
	[[ -s daemon-memory.tsv ]] || return 0
	printf '\n## Daemon memory\n\n'
	printf '`mcguard daemon --match` on a pin root of its own, guarding N new cgroups, in a\n'
	printf 'network namespace of its own. It loads the programs itself, so VmHWM includes\n'
	printf 'libbpf'\''s load.\n'
	printf 'The first columns are from /proc/PID/status. From /proc/PID/smaps: the ring is\n'
	printf 'the anon_inode:bpf-map mapping of the 4 MiB event ring, whose data pages libbpf\n'
	printf 'maps twice, so it counts 8 MiB of VmRSS (in RssFile) for 4 MiB of kernel memory\n'
	printf 'that exists with or without a reader. Library file pages are shared with every\n'
	printf 'other process that maps the same files. RssAnon (heap, stacks, the libraries'\''\n'
	printf 'copied-on-write data) is private to the daemon. The flood phase follows 2\n'
	printf 'threads of denied calls in one guarded cgroup.\n\n'
	printf '| guards | metrics | phase | VmHWM | VmRSS | RssAnon | RssFile | RssShmem | ring | library file pages | PSS | cgroups in the tree |\n'
	printf '| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n'
	awk -F'\t' 'NR > 1 { printf "| %d | %s | %s | %.1f MiB | %.1f MiB | %.2f MiB | %.1f MiB | %.1f MiB | %.1f MiB | %.1f MiB | %.1f MiB | %d |\n",
		$1, $2, $3, $4 / 1024, $5 / 1024, $6 / 1024, $7 / 1024, $8 / 1024, $9 / 1024, $10 / 1024,
		$11 / 1024, $12 }' daemon-memory.tsv
	printf '\n**Floods into the daemon**\n\n'
	printf '| guards | metrics | threads | seconds | denied calls/s | denied | dropped |\n'
	printf '| ---: | --- | ---: | ---: | ---: | ---: | ---: |\n'
	awk -F'\t' 'NR > 1 { printf "| %d | %s | %d | %.1f | %.0f | %d | %d |\n", $1, $2, $3, $5, $7, $8, $9 }' \
		daemon-flood.tsv
}

section_environment
section_targets
section_ops
section_bulk
section_events
section_scale
section_daemon
printf '\n## Attached programs per configuration\n\n'
cat configurations.md
