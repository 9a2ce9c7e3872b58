#!/usr/bin/env bash
# Every test layer in order: unit tests (no root), then the root layers.
# Ends with one summary line over all layers.
set -u
cd "$(dirname "$0")/.." || exit 1

unit_log=$(mktemp)
root_log=$(mktemp)
fuzz_log=$(mktemp)
trap 'rm -f "$unit_log" "$root_log" "$fuzz_log"' EXIT

./tests/run-unit.sh "$@" | tee "$unit_log"
unit_status=${PIPESTATUS[0]}
# A short fuzzing run per target (make fuzz runs the long one).
./tests/fuzz/run.sh "${FUZZ_CHECK_SECONDS:-20}" spec config event | tee "$fuzz_log"
fuzz_status=${PIPESTATUS[0]}
./tests/run-root.sh | tee "$root_log"
root_status=${PIPESTATUS[0]}

count() { # count WORD FILE: the number before WORD on the file's last summary line
	grep -E "[0-9]+ $1" "$2" | tail -n 1 | grep -oE "[0-9]+ $1" | grep -oE '^[0-9]+' || echo 0
}
passed=$(($(count passed "$unit_log") + $(count passed "$fuzz_log") + $(count passed "$root_log")))
failed=$(($(count failed "$unit_log") + $(count failed "$fuzz_log") + $(count failed "$root_log") +
	$(count error "$root_log")))
skipped=$(count skipped "$root_log")

status=0
if [ "$unit_status" -ne 0 ] || [ "$fuzz_status" -ne 0 ] || [ "$root_status" -ne 0 ]; then
	status=1
	[ "$failed" -gt 0 ] || failed=1
fi
if [ "${CI:-}" = true ] && [ "$skipped" -gt 0 ]; then
	echo "tests: $skipped skipped in CI, where every layer must run" >&2
	status=1
fi
echo "tests: $passed passed, $failed failed, $skipped skipped"
exit "$status"
