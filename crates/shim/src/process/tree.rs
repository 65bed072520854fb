//! Signalling a runner and everything it started. The runner is the leader of its own
//! process group, but it starts each job in a new session (so a job's group is its own), so
//! a group signal alone would miss the job: its descendants are found through
//! `/proc/<pid>/stat`.

use std::collections::BTreeSet;
use std::path::Path;

use nix::errno::Errno;
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::{Pid, getpgrp};

/// Sends `signal` to the process group `leader` leads.
pub fn signal_group(leader: Pid, signal: Signal) {
    match killpg(leader, signal) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(error) => tracing::warn!(%error, ?signal, %leader, "cannot signal a runner's group"),
    }
}

/// Sends SIGKILL to the group `leader` leads, to every process below `leader` and to their
/// process groups (the shim's own group excepted).
pub fn kill_tree(leader: Pid) {
    let own_group = getpgrp();
    let below = descendants(Path::new("/proc"), leader);
    let groups: BTreeSet<Pid> = below
        .iter()
        .filter_map(|pid| nix::unistd::getpgid(Some(*pid)).ok())
        .chain([leader])
        .filter(|group| *group != own_group)
        .collect();
    for group in groups {
        signal_group(group, Signal::SIGKILL);
    }
    for pid in below {
        let _ = kill(pid, Signal::SIGKILL);
    }
}

/// Every living process whose chain of parents leads to `root`, read from `proc`.
pub fn descendants(proc: &Path, root: Pid) -> Vec<Pid> {
    let parents: Vec<(Pid, Pid)> = std::fs::read_dir(proc)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            Some((Pid::from_raw(pid), parent_of(&stat)?))
        })
        .collect();
    let mut found = vec![root];
    let mut next = 0;
    while next < found.len() {
        let parent = found[next];
        found.extend(
            parents
                .iter()
                .filter(|(_, of)| *of == parent)
                .map(|(pid, _)| *pid),
        );
        next += 1;
    }
    found.remove(0);
    found
}

/// The parent pid in a `/proc/<pid>/stat` line; the command name may hold spaces and
/// parentheses, so the fields are counted from the last `)`.
fn parent_of(stat: &str) -> Option<Pid> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let ppid = rest.split_whitespace().nth(1)?.parse().ok()?;
    Some(Pid::from_raw(ppid))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parent_is_read_after_an_odd_command_name() {
        assert_eq!(
            parent_of("42 (a) b (c)) S 7 42 42 0 -1"),
            Some(Pid::from_raw(7))
        );
        assert_eq!(parent_of("garbage"), None);
    }

    #[test]
    fn descendants_follow_the_parent_chain() {
        let proc = tempfile::tempdir().unwrap();
        for (pid, ppid) in [(10, 1), (11, 10), (12, 11), (13, 1), (14, 12)] {
            let dir = proc.path().join(pid.to_string());
            std::fs::create_dir(&dir).unwrap();
            std::fs::write(dir.join("stat"), format!("{pid} (sh) S {ppid} 0 0")).unwrap();
        }
        std::fs::create_dir(proc.path().join("self")).unwrap();
        let mut found = descendants(proc.path(), Pid::from_raw(10));
        found.sort();
        assert_eq!(found, [11, 12, 14].map(Pid::from_raw));
    }
}
