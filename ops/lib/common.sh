# Shared by ops/quickstart and ops/test: installing what the project needs
# on Debian, building, and finding PostgreSQL's programs.

# Debian packages: build tools, libraries, the PostgreSQL server for the
# tests and the quick start, kcat, clang for the fuzz targets and
# clang-format for the format check.
CDC_PACKAGES="build-essential cmake pkg-config git ca-certificates curl
  librdkafka-dev libpq-dev libavro-dev libwebsockets-dev libuv1-dev
  libjansson-dev libjwt-dev libcurl4-openssl-dev libssl-dev libcmocka-dev
  postgresql-15 postgresql-client-15 kcat clang libclang-rt-14-dev
  clang-format
  procps iproute2"

say() { printf '%s\n' "$*" >&2; }

die() {
    say "error: $*"
    exit 1
}

# Installs the packages that are missing (needs root and apt-get).
install_packages() {
    local missing="" pkg
    for pkg in $CDC_PACKAGES; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null |
            grep -q "install ok installed" || missing="$missing $pkg"
    done
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        missing="$missing nodejs npm"
    fi
    [ -z "$missing" ] && return 0
    [ "$(id -u)" = 0 ] || die "missing packages:$missing; run as root or install them"
    say "installing:$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null || die "apt-get update failed"
    # The server package would start a system cluster; ours run in their
    # own folders, so keep Debian's from starting.
    mkdir -p /usr/sbin
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
    chmod +x /usr/sbin/policy-rc.d
    apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
        { rm -f /usr/sbin/policy-rc.d; die "apt-get install failed"; }
    rm -f /usr/sbin/policy-rc.d
}

# The directory of PostgreSQL 15's server programs.
pg_bindir() {
    local d
    for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
        [ -x "$d/initdb" ] && { echo "$d"; return 0; }
    done
    die "PostgreSQL server programs (initdb) not found"
}

# cmake_build DIR [cmake options...]: configures once, then builds.
cmake_build() {
    local dir=$1
    shift
    local log
    cmake -S "$CDC_ROOT" -B "$dir" "$@" >/dev/null || die "cmake configure failed"
    log=$(mktemp)
    if ! cmake --build "$dir" -j"$(nproc)" >"$log" 2>&1; then
        grep -E "error|Error" "$log" >&2 || tail -n 30 "$log" >&2
        rm -f "$log"
        die "build failed in $dir"
    fi
    rm -f "$log"
}
