# sshd for the SSH connection tests: installs Debian's openssh-server (sshd, ssh-keygen),
# iproute2 (ip netns, ss) and busybox-static (its httpd serves the forwarding tests) when
# missing. The tests start their own sshd per network namespace with
# their own config and keys; no system sshd is needed. Where no policy-rc.d blocks it, Debian's
# package may start a system sshd on port 22 of the host; the tests do not use it and it does
# not get in their way. Sourced by scripts/test; safe to run again.

if [ ! -x /usr/sbin/sshd ] || ! command -v ssh-keygen >/dev/null 2>&1 \
    || ! command -v ip >/dev/null 2>&1 || ! command -v ss >/dev/null 2>&1 \
    || ! busybox httpd --help >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-server iproute2 \
        busybox-static >/dev/null
fi

# sshd refuses to start without its privilege separation directory, which a booted system
# makes at start (tmpfiles.d) and a container never does.
mkdir -p /run/sshd
chmod 0755 /run/sshd
