#!/usr/bin/env bash
# Install what `make bench` needs on Debian 12 or Ubuntu: the build packages
# and nftables, for the packet-filter comparison. Only missing packages are
# installed, so a second run installs nothing. `make deps` (tests/deps.sh)
# installs the test packages as well, and finds Ubuntu's bpftool packages.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
PACKAGES=(clang llvm make gcc pkg-config libbpf-dev libelf-dev zlib1g-dev libjson-c-dev
	iproute2 util-linux nftables)

die() {
	printf 'bench deps: error: %s\n' "$*" >&2
	exit 1
}

is_installed() {
	[[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) == installed ]]
}

command -v dpkg-query >/dev/null && command -v apt-get >/dev/null ||
	die "dpkg-query and apt-get not found: install ${PACKAGES[*]} and bpftool by other means"

missing=()
for pkg in "${PACKAGES[@]}"; do
	is_installed "$pkg" || missing+=("$pkg")
done
"${BPFTOOL:-bpftool}" version >/dev/null 2>&1 || missing+=(bpftool)

if ((${#missing[@]} == 0)); then
	printf 'bench deps: all %d packages installed; bpftool found\n' "$((${#PACKAGES[@]} + 1))"
	exit 0
fi
((EUID == 0)) || die "missing: ${missing[*]}: run as root (sudo make bench)"
printf 'bench deps: apt-get install %s\n' "${missing[*]}"
apt-get update -q >/dev/null || die "apt-get update failed: check the APT sources and the network"
apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null ||
	die "apt-get install ${missing[*]} failed; on Ubuntu, run 'make deps' for bpftool, then 'make bench' again"
"${BPFTOOL:-bpftool}" version >/dev/null 2>&1 || die "bpftool still not found: run 'make deps'"
