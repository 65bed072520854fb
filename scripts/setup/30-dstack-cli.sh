# The official dstack 0.22.5 Python CLI and SDK, for the tests that drive our server with them.
# Installs the client (without the [server] extra) into a cached virtualenv, reused while it
# already holds 0.22.5, and exports DSTACK_TEST_PYTHON_CLI and DSTACK_TEST_PYTHON. Sourced by
# scripts/test; safe to run again.

dstack_cli_version=0.22.5
dstack_cli_venv="${XDG_CACHE_HOME:-$HOME/.cache}/dstack-rs-test/venv-$dstack_cli_version"

dstack_cli_installed() {
    [ -x "$dstack_cli_venv/bin/dstack" ] &&
        [ "$("$dstack_cli_venv/bin/python" -c 'import importlib.metadata as m; print(m.version("dstack"))' 2>/dev/null)" = "$dstack_cli_version" ]
}

if ! dstack_cli_installed; then
    # Debian's python3 makes virtualenvs only with python3-venv installed.
    if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    fi
    if ! python3 -m venv --clear "$dstack_cli_venv" >/dev/null; then
        echo "could not create a Python virtualenv at $dstack_cli_venv (is python3-venv installed?)" >&2
        return 1 2>/dev/null || exit 1
    fi
    if ! "$dstack_cli_venv/bin/python" -m pip install -q --disable-pip-version-check "dstack==$dstack_cli_version" >/dev/null; then
        echo "could not install dstack==$dstack_cli_version into $dstack_cli_venv" >&2
        return 1 2>/dev/null || exit 1
    fi
    if ! dstack_cli_installed; then
        echo "dstack $dstack_cli_version is not importable from $dstack_cli_venv after installing it" >&2
        return 1 2>/dev/null || exit 1
    fi
fi

export DSTACK_TEST_PYTHON_CLI="$dstack_cli_venv/bin/dstack"
export DSTACK_TEST_PYTHON="$dstack_cli_venv/bin/python"
