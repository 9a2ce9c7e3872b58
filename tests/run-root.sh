#!/usr/bin/env bash
# Run the root test layers with pytest: integration (real sockets in test
# cgroups and network namespaces) and end to end (real mail catchers).
# Extra arguments go to pytest, e.g. -k wildcard.
set -u
cd "$(dirname "$0")/.." || exit 1

if [ "$(id -u)" -ne 0 ]; then
	if [ "${CI:-}" = true ]; then
		echo "root tests: must run as root in CI" >&2
		exit 1
	fi
	echo "root tests: skipped, they need root (sudo make check)" >&2
	exit 0
fi

# Debian's pytest and aiosmtpd belong to the system interpreter, not to a
# python3 that a version manager may put first in PATH.
PYTHON=${PYTHON:-/usr/bin/python3}
"$PYTHON" -m pytest -p no:cacheprovider -ra tests/integration tests/e2e "$@"
status=$?
# pytest exits 5 when it collected no test: that is a failure here.
[ "$status" -eq 5 ] && echo "root tests: pytest collected no test" >&2
exit "$status"
