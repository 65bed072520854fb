# The official dstack 0.22.5 server (the [server] extra), for the CLI tests that drive the
# reference server with our `dstack` binary. Installed into its own cached virtualenv, beside
# the client-only one of 30-dstack-cli.sh, and reused while it holds 0.22.5. Exports
# DSTACK_TEST_PYTHON_SERVER (its `dstack` executable). Safe to run again.

dstack_server_version=0.22.5
dstack_server_venv="${XDG_CACHE_HOME:-$HOME/.cache}/dstack-rs-test/venv-server-$dstack_server_version"

dstack_server_installed() {
    [ -x "$dstack_server_venv/bin/dstack" ] &&
        "$dstack_server_venv/bin/python" -c 'import importlib.metadata as m, sys, uvicorn; sys.exit(m.version("dstack") != sys.argv[1])' "$dstack_server_version" >/dev/null 2>&1
}

if ! dstack_server_installed; then
    if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    fi
    if ! python3 -m venv --clear "$dstack_server_venv" >/dev/null ||
        ! "$dstack_server_venv/bin/python" -m pip install -q --disable-pip-version-check "dstack[server]==$dstack_server_version" >/dev/null ||
        ! dstack_server_installed; then
        echo "could not install dstack[server]==$dstack_server_version into $dstack_server_venv" >&2
        return 1 2>/dev/null || exit 1
    fi
fi

export DSTACK_TEST_PYTHON_SERVER="$dstack_server_venv/bin/dstack"
