# tmux, for the CLI's terminal tests (prompts, spinners, `ps -w` redraws in a real terminal):
# installs Debian's tmux when missing and exports DSTACK_TEST_TMUX. Safe to run again.

if ! command -v tmux >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux >/dev/null
fi

DSTACK_TEST_TMUX="$(command -v tmux)"
export DSTACK_TEST_TMUX
