#!/usr/bin/env bash
# Run the cmocka unit test binaries given as arguments. Needs no root.
# Prints "unit: N passed, N failed" and exits non-zero when any test failed.
set -u
passed=0
failed=0
for test in "$@"; do
	output=$("$test" 2>&1)
	status=$?
	printf '%s\n' "$output" | grep -E '^\[ *(RUN|OK|FAILED|PASSED|SKIPPED|==========) *\]|^\[  ERROR   \]' | grep -v '^\[ RUN'
	ok=$(printf '%s\n' "$output" | grep -c '^\[       OK \]')
	bad=$(printf '%s\n' "$output" | grep -c '^\[  FAILED  \] test_')
	passed=$((passed + ok))
	failed=$((failed + bad))
	if [ "$status" -ne 0 ] && [ "$bad" -eq 0 ]; then
		echo "$test exited with status $status" >&2
		failed=$((failed + 1))
	fi
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
