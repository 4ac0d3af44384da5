#!/usr/bin/env bash
# One idempotent set-up step for a Debian 12 machine (run as root): the system packages chisel and its
# tests need, tracefs/debugfs, kernel headers for the running kernel, and a virtualenv in which both
# `import chisel` and `import bcc` work. A second run changes nothing and takes well under 5 seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
STAMP="$VENV/.chisel-install-stamp"
PROBES_STAMP="$VENV/.chisel-probes-stamp"
BCC_DIR=/usr/lib/python3/dist-packages/bcc
# python3-bpfcc: bcc is not on PyPI. sysdig, strace and bpftrace are the oracles and peers of the
# tests and the benchmark.
PACKAGES=(python3-bpfcc bpfcc-tools linux-headers-amd64 sysdig strace bpftrace python3-venv make)

say() { echo "setup: $*"; }

as_root() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "setup: error: $1 needs root; rerun as root (sudo make ...)" >&2
        exit 1
    fi
}

install_missing_packages() {
    local missing=()
    # One dpkg-query for all packages: installed ones print "install ok installed".
    local status
    status=$(dpkg-query -W -f='${Package} ${Status}\n' "${PACKAGES[@]}" 2>/dev/null || true)
    for pkg in "${PACKAGES[@]}"; do
        grep -q "^$pkg install ok installed$" <<<"$status" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return
    as_root "installing ${missing[*]}"
    say "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

mount_tracing() {
    local fs dir
    for fs in tracefs:/sys/kernel/tracing debugfs:/sys/kernel/debug; do
        dir=${fs#*:}
        if ! mountpoint -q "$dir"; then
            as_root "mounting ${fs%%:*}"
            mount -t "${fs%%:*}" nodev "$dir"
            say "mounted ${fs%%:*} at $dir"
        fi
    done
}

link_kernel_headers() {
    local krel moddir headers version
    krel=$(uname -r)
    moddir=/lib/modules/$krel
    [ -e "$moddir/build" ] && return
    # The newest Debian headers package's module dir carries the build and source links bcc wants.
    headers=$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$headers" ]; then
        echo "setup: error: no kernel headers for $krel: linux-headers-amd64 installed none; install headers for this kernel" >&2
        exit 1
    fi
    version=${headers#/usr/src/linux-headers-}
    as_root "linking kernel headers"
    if [ -e "$moddir" ] || [ -L "$moddir" ]; then
        # bcc needs both links: build (generated headers) and source (the common tree with kconfig.h).
        ln -sfn "/lib/modules/$version/build" "$moddir/build"
        ln -sfn "/lib/modules/$version/source" "$moddir/source"
        say "$moddir/build was missing: linked build and source to Debian $version headers"
    else
        ln -s "/lib/modules/$version" "$moddir"
        say "$moddir was missing: linked it to /lib/modules/$version (Debian $version headers)"
    fi
}

make_venv() {
    if [ ! -x "$VENV/bin/python" ]; then
        say "creating $VENV"
        python3 -m venv "$VENV"
    fi
    # bcc comes from Debian; the venv sees only it (not all of dist-packages) through one .pth folder.
    mkdir -p "$VENV/bcc-link"
    if [ "$(readlink "$VENV/bcc-link/bcc" 2>/dev/null)" != "$BCC_DIR" ]; then
        ln -sfn "$BCC_DIR" "$VENV/bcc-link/bcc"
    fi
    local site pth
    site=$(ls -d "$VENV"/lib/python3*/site-packages | head -n 1)
    pth="$site/debian-bcc.pth"
    if [ "$(cat "$pth" 2>/dev/null)" != "$PWD/$VENV/bcc-link" ]; then
        printf '%s' "$PWD/$VENV/bcc-link" >"$pth"
    fi
}

install_package() {
    # Reinstall only when pyproject.toml changed since the last install (the stamp holds its hash).
    local want
    want=$(sha256sum pyproject.toml | cut -d' ' -f1)
    [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ] && return
    say "installing chisel into $VENV (pip install -e '.[test]')"
    "$VENV/bin/python" -m pip install -q -e '.[test]'
    echo "$want" >"$STAMP"
}

prepare_probes() {
    # Compile the built-in chisels' probes (and the demo's) into the BPF program cache, so their
    # first live start loads bytecode (~0.3 s) instead of compiling it (~2 s). Skipped without
    # root or tracepoints, and when neither the kernel nor the probe sources changed (stamp).
    [ "$(id -u)" = 0 ] && [ -d /sys/kernel/tracing/events/syscalls ] || return 0
    local want
    want=$( (uname -r; cat core/live/*.py core/live/*.c core/session.py chisels/*.py) | sha256sum | cut -d' ' -f1)
    [ "$(cat "$PROBES_STAMP" 2>/dev/null)" = "$want" ] && return
    say "compiling the built-in chisels' BPF probes into the cache (once per kernel and version)"
    local chisel="$VENV/bin/chisel" ok=1
    # One compiled object serves every command line of the same shape (filter axes, snaplen bucket,
    # probe style), so these cover the built-ins, the demo, and the usual fd.name and proc.name filters.
    for args in "" echo_fds topfiles topfiles_time spy_users netconns "proc.name=chisel" \
                "echo_fds fd.name=/etc/passwd" "echo_fds fd.name=/etc/os-release -- true"; do
        # shellcheck disable=SC2086 # the words of $args are separate arguments
        "$chisel" --prepare-probes $args >/dev/null || ok=0
    done
    [ "$ok" = 1 ] && echo "$want" >"$PROBES_STAMP"
    return 0  # a failure here costs start-up time only: the chisel compiles at its first start
}

install_missing_packages
mount_tracing
link_kernel_headers
make_venv
install_package
"$VENV/bin/python" -c "import bcc, chisel.core.cli" || {
    echo "setup: error: the virtualenv cannot import bcc and chisel; remove $VENV and rerun" >&2
    exit 1
}
prepare_probes
