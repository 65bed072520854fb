//! `dstack-runner exec-job`: the helper every job is started through. It makes the job a
//! session of its own whose controlling terminal is the pseudo-terminal on its stdin (as
//! dstack's runner does), drops to the job user's groups, gid and uid when given, then
//! replaces itself with the job's command, so the job keeps the helper's pid, session,
//! environment and directory.
//!
//! This is a separate exec rather than code between fork and exec because the workspace
//! forbids `unsafe`, which `pre_exec` needs.

use std::ffi::OsString;
use std::os::unix::process::CommandExt;

use nix::unistd::{Gid, Uid, setgid, setgroups, setsid, setuid, ttyname};

/// The user the job runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobIds {
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExecJobError {
    #[error("no command to run")]
    NoCommand,
    #[error("cannot start a session: {0}")]
    Session(nix::Error),
    #[error("cannot make {tty} the controlling terminal: {source}")]
    Terminal { tty: String, source: std::io::Error },
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

/// Sets up the session, becomes `ids` when given, and execs `argv`. Returns only on failure.
pub fn exec_job(ids: Option<&JobIds>, argv: &[OsString]) -> ExecJobError {
    let Some((program, args)) = argv.split_first() else {
        return ExecJobError::NoCommand;
    };
    if let Err(error) = take_terminal() {
        return error;
    }
    if let Some(ids) = ids
        && let Err(error) = become_user(ids)
    {
        return error;
    }
    let source = std::process::Command::new(program).args(args).exec();
    ExecJobError::Exec {
        program: program.clone(),
        source,
    }
}

/// A new session; when stdin is a terminal, it becomes the session's controlling terminal:
/// a session leader without one acquires the first terminal it opens.
fn take_terminal() -> Result<(), ExecJobError> {
    setsid().map_err(ExecJobError::Session)?;
    let Ok(tty) = ttyname(std::io::stdin()) else {
        return Ok(());
    };
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&tty)
        .map(drop)
        .map_err(|source| ExecJobError::Terminal {
            tty: tty.display().to_string(),
            source,
        })
}

fn become_user(ids: &JobIds) -> Result<(), ExecJobError> {
    let gids: Vec<Gid> = ids.groups.iter().copied().map(Gid::from_raw).collect();
    setgroups(&gids).map_err(|source| ExecJobError::Groups {
        groups: ids.groups.clone(),
        source,
    })?;
    // gid before uid: once the uid is dropped the process may no longer change its gid.
    setgid(Gid::from_raw(ids.gid)).map_err(|source| ExecJobError::Gid {
        gid: ids.gid,
        source,
    })?;
    setuid(Uid::from_raw(ids.uid)).map_err(|source| ExecJobError::Uid {
        uid: ids.uid,
        source,
    })
}
