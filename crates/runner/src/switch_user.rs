//! `dstack-runner switch-user`: the helper the runner starts the job through when it runs as
//! root. It drops to the job user's groups, gid and uid, then replaces itself with the job's
//! command, so the job keeps the helper's pid, process group, environment and directory.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;

use nix::unistd::{Gid, Uid, setgid, setgroups, setuid};

#[derive(Debug, thiserror::Error)]
pub enum SwitchUserError {
    #[error("no command to run")]
    NoCommand,
    #[error("cannot set groups {groups:?}: {source}")]
    Groups {
        groups: Vec<u32>,
        source: nix::Error,
    },
    #[error("cannot set gid {gid}: {source}")]
    Gid { gid: u32, source: nix::Error },
    #[error("cannot set uid {uid}: {source}")]
    Uid { uid: u32, source: nix::Error },
    #[error("cannot run {program:?}: {source}")]
    Exec {
        program: OsString,
        source: std::io::Error,
    },
}

/// Becomes `uid`/`gid` with `groups` and execs `argv`. Returns only on failure.
pub fn switch_user_and_exec(
    uid: u32,
    gid: u32,
    groups: &[u32],
    argv: &[OsString],
) -> SwitchUserError {
    let Some((program, args)) = argv.split_first() else {
        return SwitchUserError::NoCommand;
    };
    let gids: Vec<Gid> = groups.iter().copied().map(Gid::from_raw).collect();
    if let Err(source) = setgroups(&gids) {
        return SwitchUserError::Groups {
            groups: groups.to_vec(),
            source,
        };
    }
    // gid before uid: once the uid is dropped the process may no longer change its gid.
    if let Err(source) = setgid(Gid::from_raw(gid)) {
        return SwitchUserError::Gid { gid, source };
    }
    if let Err(source) = setuid(Uid::from_raw(uid)) {
        return SwitchUserError::Uid { uid, source };
    }
    let source = std::process::Command::new(program).args(args).exec();
    SwitchUserError::Exec {
        program: program.clone(),
        source,
    }
}
