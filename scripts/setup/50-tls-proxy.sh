# socat and the openssl CLI, for the CLI's HTTPS test: it makes a throwaway CA and server
# certificate with openssl and puts a TLS-terminating socat in front of a server. Installs
# Debian's packages when missing and exports DSTACK_TEST_SOCAT and DSTACK_TEST_OPENSSL. Safe to
# run again.

if ! command -v socat >/dev/null 2>&1 || ! command -v openssl >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq socat openssl >/dev/null
fi

DSTACK_TEST_SOCAT="$(command -v socat)"
DSTACK_TEST_OPENSSL="$(command -v openssl)"
export DSTACK_TEST_SOCAT DSTACK_TEST_OPENSSL
