# The runner as the shim puts it into containers, for the tests that run real jobs in Docker:
# linked statically (as released), so it runs in any image, even one without a libc such as
# dstack-test/busybox. Exports DSTACK_TEST_STATIC_RUNNER, and DSTACK_TEST_SHIM, the shim the
# local backend starts. Cargo rebuilds them only when they changed. Sourced by scripts/test
# from the repository root; safe to run again.

dstack_static_target="$(rustc -vV | sed -n 's/^host: //p')"
# With --target the flags reach only the runner and its dependencies, not build scripts or
# proc macros, which cannot be static.
RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --quiet --locked -p dstack-runner --target "$dstack_static_target" || {
    echo "cannot build the static dstack-runner" >&2
    return 1 2>/dev/null || exit 1
}
dstack_target_dir="${CARGO_TARGET_DIR:-$PWD/target}"
export DSTACK_TEST_STATIC_RUNNER="$dstack_target_dir/$dstack_static_target/debug/dstack-runner"

# The shim the local backend of the end-to-end tests starts for each slice.
cargo build --quiet --locked -p dstack-shim || {
    echo "cannot build dstack-shim" >&2
    return 1 2>/dev/null || exit 1
}
export DSTACK_TEST_SHIM="$dstack_target_dir/debug/dstack-shim"
