#!/usr/bin/env bash
# Run libFuzzer targets: run.sh SECONDS TARGET...
# Each target starts from its seed corpus in tests/fuzz/corpus/TARGET (copied,
# so new inputs stay out of the tree) and first replays the crashers kept in
# tests/fuzz/crashers/TARGET as regression tests. Prints one line per target
# with its executions and exits non-zero on any crash.
set -u
cd "$(dirname "$0")/../.." || exit 1
seconds=$1
shift
work=.output/fuzz
# Leaks inside libraries that mcguard cannot fix; see the file for each.
export LSAN_OPTIONS="suppressions=$PWD/tests/fuzz/lsan.supp${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
status=0
passed=0
failed=0
for target in "$@"; do
	binary=$work/fuzz_$target
	corpus=$work/corpus-$target
	mkdir -p "$corpus"
	cp -n tests/fuzz/corpus/"$target"/* "$corpus"/ 2>/dev/null
	crashers=(tests/fuzz/crashers/"$target"/*)
	if [ -e "${crashers[0]}" ] && ! "$binary" "${crashers[@]}" >"$work/$target-crashers.log" 2>&1; then
		echo "fuzz $target: a kept crasher fails again, see $work/$target-crashers.log"
		failed=$((failed + 1))
		status=1
		continue
	fi
	log=$work/$target.log
	if "$binary" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$work/$target-" \
		"$corpus" >"$log" 2>&1; then
		runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$')
		echo "fuzz $target: ${runs:-?} executions in ${seconds} s, no crash"
		passed=$((passed + 1))
	else
		echo "fuzz $target: CRASH, see $log and $work/$target-crash-*; keep the input in tests/fuzz/crashers/$target/"
		failed=$((failed + 1))
		status=1
	fi
done
echo "fuzz: $passed passed, $failed failed"
exit "$status"
