#!/usr/bin/env bash
# Install what the build, the tests and the demo need on Debian 12 or Ubuntu.
# apt-get installs the missing packages, then npm installs MailDev into
# .output/npm, a project-local prefix. A second run installs nothing and only
# checks.
#
# Environment: BPFTOOL (a bpftool binary to use instead of the one on PATH),
# MCG_NPM_PREFIX (where MailDev goes, default <repo>/.output/npm).
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NPM_PREFIX=${MCG_NPM_PREFIX:-$REPO_ROOT/.output/npm}
BPFTOOL=${BPFTOOL:-bpftool}
export DEBIAN_FRONTEND=noninteractive

PACKAGES=(clang llvm libclang-rt-dev make gcc pkg-config libbpf-dev libelf-dev zlib1g-dev
	libjson-c-dev libconfig-dev libmicrohttpd-dev libcurl4-openssl-dev libcmocka-dev
	iproute2 util-linux python3 python3-pytest python3-aiosmtpd python3-yaml swaks nmap curl
	openssl valgrind nftables iptables systemd)

step() { printf 'deps: %s\n' "$*"; }
die() {
	printf 'deps: error: %s\n' "$*" >&2
	exit 1
}

is_installed() {
	[[ $(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null) == installed ]]
}

bpftool_works() {
	"$BPFTOOL" version >/dev/null 2>&1
}

# Succeed when apt has an installable version of the package. The result is
# only current after apt-get update.
has_candidate() {
	local candidate
	candidate=$(apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ { print $2 }')
	[[ -n $candidate && $candidate != "(none)" ]]
}

# Print the packages that provide bpftool. Debian ships it as "bpftool". Ubuntu
# ships it per kernel in linux-tools-$(uname -r), behind a wrapper in linux-tools-common.
bpftool_packages() {
	if has_candidate bpftool; then
		echo bpftool
	elif has_candidate "linux-tools-$(uname -r)"; then
		echo linux-tools-common "linux-tools-$(uname -r)"
	fi
}

explain_missing_bpftool() {
	local found
	found=$(find /usr/lib/linux-tools -mindepth 2 -maxdepth 2 -name bpftool 2>/dev/null | sort -V | tail -n 1 || true)
	if [[ -n $found ]]; then
		die "no bpftool for kernel $(uname -r), but $found exists: run 'make BPFTOOL=$found deps' and pass the same BPFTOOL to every make command"
	fi
	die "no bpftool found and no package provides one for kernel $(uname -r): build it from the kernel source (tools/bpf/bpftool) or install linux-tools for this kernel, then pass BPFTOOL=/path/to/bpftool to make"
}

# Debian and Ubuntu packages.
if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
	die "dpkg-query and apt-get not found: this script supports Debian 12 and Ubuntu. Install these packages by other means: ${PACKAGES[*]} bpftool nodejs npm"
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
	is_installed "$pkg" || missing+=("$pkg")
done
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
need_bpftool=0
bpftool_works || need_bpftool=1

wanted=("${missing[@]}")
((need_bpftool)) && wanted+=(bpftool)
if ((${#wanted[@]} == 0)); then
	step "packages: all ${#PACKAGES[@]} installed; bpftool, node and npm found"
else
	((EUID == 0)) || die "missing: ${wanted[*]}: run as root (sudo make deps)"
	step "apt-get update (missing: ${wanted[*]})"
	apt-get update -q >/dev/null ||
		die "apt-get update failed: check /etc/apt/sources.list and the network, then run make deps again"

	if ((need_bpftool)); then
		read -r -a tool_pkgs <<<"$(bpftool_packages)"
		((${#tool_pkgs[@]} > 0)) || explain_missing_bpftool
		missing+=("${tool_pkgs[@]}")
	fi

	step "apt-get install ${missing[*]}"
	apt-get install -y -q --no-install-recommends "${missing[@]}" ||
		die "apt-get install failed for: ${missing[*]}. Read the apt output above, fix the cause, then run make deps again"
fi

# Check that the packages delivered what the build and the tests call.
bpftool_works || explain_missing_bpftool
step "bpftool: $(command -v "$BPFTOOL") ($("$BPFTOOL" version 2>/dev/null | head -n 1))"
for cmd in clang make gcc pkg-config ip nsenter unshare setpriv swaks nmap curl openssl node npm \
	nft iptables-legacy iptables-nft-save systemd-analyze; do
	command -v "$cmd" >/dev/null || die "$cmd not found on PATH after installing packages: install it by hand, then run make deps again"
done
pkg-config --exists libbpf libelf zlib json-c libconfig libmicrohttpd libcurl cmocka ||
	die "pkg-config cannot find one of libbpf libelf zlib json-c libconfig libmicrohttpd libcurl cmocka: check that their -dev packages are installed"
# Debian's python3-pytest, python3-aiosmtpd and python3-yaml are importable by
# the system interpreter only, not by a pyenv or venv python3 earlier on PATH.
/usr/bin/python3 -c 'import pytest, aiosmtpd, yaml' 2>/dev/null ||
	die "/usr/bin/python3 cannot import pytest, aiosmtpd and yaml: install python3-pytest, python3-aiosmtpd and python3-yaml"
step "tools: clang $(clang -dumpversion), python3 $(/usr/bin/python3 -c 'import platform; print(platform.python_version())'), node $(node --version)"

# The "engines" field of MailDev 3.0.0 requires Node >= 20, of 2.2.x Node >= 18
# and of 2.0.x Node >= 12.
node_major=$(node -p 'process.versions.node.split(".")[0]')
if ((node_major >= 20)); then
	maildev_spec=maildev@3
elif ((node_major >= 18)); then
	maildev_spec=maildev@2
else
	maildev_spec=maildev@~2.0
fi
maildev_want_major=${maildev_spec#maildev@}
maildev_want_major=${maildev_want_major#\~}
maildev_want_major=${maildev_want_major%%.*}

maildev_pkg_json=$NPM_PREFIX/node_modules/maildev/package.json
maildev_version=""
if [[ -f $maildev_pkg_json ]]; then
	maildev_version=$(node -p "require(process.argv[1]).version" "$maildev_pkg_json" 2>/dev/null || true)
fi

if [[ -n $maildev_version && ${maildev_version%%.*} == "$maildev_want_major" && -x $NPM_PREFIX/node_modules/.bin/maildev ]]; then
	step "maildev: $maildev_version present in $NPM_PREFIX (node $node_major)"
else
	step "npm install $maildev_spec into $NPM_PREFIX (node $node_major${maildev_version:+, replacing $maildev_version})"
	mkdir -p "$NPM_PREFIX"
	npm install --prefix "$NPM_PREFIX" --no-audit --no-fund --loglevel=error "$maildev_spec" ||
		die "npm install $maildev_spec failed: read the npm output above, check that the npm registry is reachable, then run make deps again"
	maildev_version=$(node -p "require(process.argv[1]).version" "$maildev_pkg_json") ||
		die "npm install $maildev_spec reported success but $maildev_pkg_json is missing"
	step "maildev: $maildev_version installed in $NPM_PREFIX"
fi
