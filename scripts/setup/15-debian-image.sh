# A Debian test image for the agents' tests: a minbase root filesystem made with debootstrap
# (with git and ca-certificates for the runner's repo tests, and openssh-server so that the
# container start does not install it), cached as a tarball under
# ~/.cache/dstack-rs-test/ keyed by suite, architecture and package list, then `docker import`ed.
# Exports DSTACK_TEST_DEBIAN_IMAGE. Needs 10-docker.sh first. Sourced by scripts/test; safe to
# run again.

dstack_debian_suite="${DSTACK_TEST_DEBIAN_SUITE:-bookworm}"
export DSTACK_TEST_DEBIAN_IMAGE="${DSTACK_TEST_DEBIAN_IMAGE:-dstack-test/debian:$dstack_debian_suite}"

if ! docker image inspect "$DSTACK_TEST_DEBIAN_IMAGE" >/dev/null 2>&1; then
    (
        set -euo pipefail
        packages="git,ca-certificates,openssh-server"
        arch="$(dpkg --print-architecture)"
        cache="$HOME/.cache/dstack-rs-test/debian"
        tarball="$cache/$dstack_debian_suite-$arch-minbase-${packages//,/-}.tar.gz"
        if [ ! -s "$tarball" ]; then
            if ! command -v debootstrap >/dev/null 2>&1; then
                apt-get update -qq
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
            fi
            # The mirror this machine's apt already uses, else Debian's redirector.
            mirror="$(grep -rhoE '^(URIs:|deb) +https?://[^ ]+/debian/?( |$)' \
                /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null \
                | grep -oE 'https?://[^ ]+' | head -n 1 || true)"
            mirror="${mirror:-http://deb.debian.org/debian}"
            mkdir -p "$cache"
            rootfs="$(mktemp -d)"
            trap 'rm -rf "$rootfs"' EXIT
            debootstrap --variant=minbase --include="$packages" \
                "$dstack_debian_suite" "$rootfs" "$mirror" >"$cache/debootstrap.log" 2>&1 || {
                echo "debootstrap failed; see $cache/debootstrap.log" >&2
                exit 1
            }
            # Package caches and lists only make the image bigger.
            rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
            tar -C "$rootfs" --numeric-owner -czf "$tarball.partial" .
            mv "$tarball.partial" "$tarball"
        fi
        docker import \
            --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            --change 'CMD ["/bin/bash"]' \
            "$tarball" "$DSTACK_TEST_DEBIAN_IMAGE" >/dev/null
    ) || { return 1 2>/dev/null || exit 1; }
fi
