# Docker for the agents' tests: installs Debian's docker.io when missing, starts dockerd when
# it does not answer, and builds the test image dstack-test/busybox from Debian's static
# busybox (no registry is reachable). Exports DSTACK_TEST_BUSYBOX_IMAGE. Sourced by
# scripts/test; safe to run again.

export DSTACK_TEST_BUSYBOX_IMAGE="${DSTACK_TEST_BUSYBOX_IMAGE:-dstack-test/busybox}"

if ! command -v dockerd >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi

if ! docker info >/dev/null 2>&1; then
    # CI machines and containers have no init system to start it.
    nohup dockerd >/var/log/dstack-test-dockerd.log 2>&1 &
    dstack_docker_deadline=$((SECONDS + 60))
    until docker info >/dev/null 2>&1; do
        if [ "$SECONDS" -ge "$dstack_docker_deadline" ]; then
            echo "dockerd did not answer within 60 s; see /var/log/dstack-test-dockerd.log" >&2
            return 1 2>/dev/null || exit 1
        fi
        sleep 0.2
    done
fi

if ! docker image inspect "$DSTACK_TEST_BUSYBOX_IMAGE" >/dev/null 2>&1; then
    if [ ! -x /bin/busybox ] || ! /bin/busybox --list >/dev/null 2>&1 \
        || ! dpkg -s busybox-static >/dev/null 2>&1; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null
    fi
    (
        set -euo pipefail
        rootfs="$(mktemp -d)"
        trap 'rm -rf "$rootfs"' EXIT
        mkdir -p "$rootfs"/{bin,etc,tmp,root,usr/local/bin}
        chmod 1777 "$rootfs/tmp"
        cp /bin/busybox "$rootfs/bin/busybox"
        for applet in $("$rootfs/bin/busybox" --list); do
            [ "$applet" = busybox ] || ln -s busybox "$rootfs/bin/$applet"
        done
        printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
            >"$rootfs/etc/passwd"
        printf 'root:x:0:\nnogroup:x:65534:\n' >"$rootfs/etc/group"
        tar -C "$rootfs" -c . | docker import \
            --change 'ENV PATH=/usr/local/bin:/bin' --change 'CMD ["/bin/sh"]' \
            - "$DSTACK_TEST_BUSYBOX_IMAGE" >/dev/null
    )
fi
