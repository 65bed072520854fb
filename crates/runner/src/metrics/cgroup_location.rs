//! Where the runner's own cgroup is, from the contents of `/proc/self/mounts` and
//! `/proc/self/cgroup`.
//!
//! cgroup v2: the mount point is the first `cgroup2` mount and the path is the `0::<path>`
//! line. cgroup v1: each controller (`memory`, `cpuacct`, ...) has its own mount, named in
//! the mount options, and its own `<id>:<controllers>:<path>` line. A hybrid host has both;
//! its v2 mount may carry no controllers at all.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CgroupLocationError {
    #[error("only cgroup v1 mounts found")]
    OnlyV1Mounts,
    #[error("no cgroup mounts found")]
    NoMounts,
    #[error("no cgroup v1 mount has the {0} controller")]
    NoV1Mount(String),
}

const V1_FS_TYPE: &str = "cgroup";
const V2_FS_TYPE: &str = "cgroup2";

/// One `/proc/self/mounts` line: `device mount-point fs-type options dump pass`.
struct Mount<'a> {
    point: &'a str,
    fs_type: &'a str,
    options: &'a str,
}

fn mounts(contents: &str) -> impl Iterator<Item = Mount<'_>> {
    contents.lines().filter_map(|line| {
        let mut fields = line.split_whitespace().skip(1);
        Some(Mount {
            point: fields.next()?,
            fs_type: fields.next()?,
            options: fields.next()?,
        })
    })
}

/// The mount point of the first cgroup v2 hierarchy.
pub fn find_v2_mount(proc_mounts: &str) -> Result<String, CgroupLocationError> {
    match mounts(proc_mounts).find(|mount| mount.fs_type == V2_FS_TYPE) {
        Some(mount) => Ok(unescape_mount_point(mount.point)),
        None if mounts(proc_mounts).any(|mount| mount.fs_type == V1_FS_TYPE) => {
            Err(CgroupLocationError::OnlyV1Mounts)
        }
        None => Err(CgroupLocationError::NoMounts),
    }
}

/// The mount point of the cgroup v1 hierarchy that holds `controller`.
pub fn find_v1_mount(proc_mounts: &str, controller: &str) -> Result<String, CgroupLocationError> {
    mounts(proc_mounts)
        .find(|mount| {
            mount.fs_type == V1_FS_TYPE
                && mount.options.split(',').any(|option| option == controller)
        })
        .map(|mount| unescape_mount_point(mount.point))
        .ok_or_else(|| CgroupLocationError::NoV1Mount(controller.to_owned()))
}

/// The process's path in the cgroup v2 hierarchy (the `0::<path>` line).
pub fn v2_path(proc_self_cgroup: &str) -> Option<&str> {
    proc_self_cgroup
        .lines()
        .find_map(|line| line.strip_prefix("0::"))
}

/// The process's path in the cgroup v1 hierarchy that holds `controller`.
pub fn v1_path<'a>(proc_self_cgroup: &'a str, controller: &str) -> Option<&'a str> {
    proc_self_cgroup.lines().find_map(|line| {
        let mut fields = line.splitn(3, ':');
        let (_, controllers, path) = (fields.next()?, fields.next()?, fields.next()?);
        controllers
            .split(',')
            .any(|name| name == controller)
            .then_some(path)
    })
}

/// The kernel writes space, tab, newline and backslash in mount points as `\ooo` octal
/// escapes (`\040` for a space).
fn unescape_mount_point(escaped: &str) -> String {
    let bytes = escaped.as_bytes();
    let mut unescaped = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some((&byte, tail)) = rest.split_first() {
        let octal = tail
            .get(..3)
            .filter(|digits| {
                byte == b'\\' && digits.iter().all(|digit| (b'0'..=b'7').contains(digit))
            })
            .and_then(|digits| u8::from_str_radix(std::str::from_utf8(digits).ok()?, 8).ok());
        match octal {
            Some(decoded) => {
                unescaped.push(decoded);
                rest = tail.get(3..).unwrap_or_default();
            }
            None => {
                unescaped.push(byte);
                rest = tail;
            }
        }
    }
    String::from_utf8_lossy(&unescaped).into_owned()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const V2_ONLY: &str =
        "proc /proc proc rw 0 0\ncgroup2 /sys/fs/cgroup cgroup2 rw,nosuid,nodev 0 0\n";
    const V1_ONLY: &str = "cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0\n\
                           cgroup /sys/fs/cgroup/cpu,cpuacct cgroup rw,cpu,cpuacct 0 0\n";

    #[test]
    fn finds_the_v2_mount() {
        assert_eq!(find_v2_mount(V2_ONLY), Ok("/sys/fs/cgroup".to_owned()));
    }

    #[test]
    fn v1_only_and_no_mounts_are_distinct_errors() {
        assert_eq!(
            find_v2_mount(V1_ONLY),
            Err(CgroupLocationError::OnlyV1Mounts)
        );
        assert_eq!(
            find_v2_mount("proc /proc proc rw 0 0\n"),
            Err(CgroupLocationError::NoMounts)
        );
        assert_eq!(find_v2_mount(""), Err(CgroupLocationError::NoMounts));
    }

    #[test]
    fn finds_v1_mounts_by_controller_option_not_by_path() {
        assert_eq!(
            find_v1_mount(V1_ONLY, "cpuacct"),
            Ok("/sys/fs/cgroup/cpu,cpuacct".to_owned())
        );
        assert_eq!(
            find_v1_mount(V1_ONLY, "memory"),
            Ok("/sys/fs/cgroup/memory".to_owned())
        );
        assert_eq!(
            find_v1_mount(V1_ONLY, "pids"),
            Err(CgroupLocationError::NoV1Mount("pids".to_owned()))
        );
    }

    #[test]
    fn mount_point_escapes_are_decoded() {
        let mounts = "cgroup2 /mnt/my\\040cgroups\\134x cgroup2 rw 0 0\n";
        assert_eq!(find_v2_mount(mounts), Ok("/mnt/my cgroups\\x".to_owned()));
    }

    #[test]
    fn reads_paths_per_hierarchy() {
        let cgroup = "12:memory:/docker/abc\n3:cpu,cpuacct:/docker/abc/cpu\n0::/system.slice/job\n";
        assert_eq!(v2_path(cgroup), Some("/system.slice/job"));
        assert_eq!(v1_path(cgroup, "cpuacct"), Some("/docker/abc/cpu"));
        assert_eq!(v1_path(cgroup, "memory"), Some("/docker/abc"));
        assert_eq!(v1_path(cgroup, "pids"), None);
        assert_eq!(v2_path("12:memory:/docker/abc\n"), None);
    }

    proptest! {
        #[test]
        fn never_panics(contents in any::<String>(), controller in "[a-z]{0,8}") {
            let _ = find_v2_mount(&contents);
            let _ = find_v1_mount(&contents, &controller);
            let _ = v2_path(&contents);
            let _ = v1_path(&contents, &controller);
        }

        #[test]
        fn never_panics_on_escapes(point in "(/|[a-z]|\\\\[0-9]{0,3}){0,12}") {
            let _ = find_v2_mount(&format!("cgroup2 {point} cgroup2 rw 0 0"));
        }
    }
}
