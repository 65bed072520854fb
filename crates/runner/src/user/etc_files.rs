//! Readers for the contents of a container's `/etc/passwd` and `/etc/group`.
//!
//! The runner resolves users from these files only (no NSS). Blank lines and `#` comments
//! are ignored; any other line that does not have the file's field count and numeric ids is
//! left out and its line number kept, so the caller can report it.

/// One `/etc/passwd` line: `name:password:uid:gid:gecos:home:shell`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
    pub shell: String,
}

/// One `/etc/group` line: `name:password:gid:member,member,...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEntry {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

/// The readable entries of one file and the 1-based numbers of the lines that were not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcFile<T> {
    pub entries: Vec<T>,
    pub malformed_lines: Vec<usize>,
}

pub fn parse_passwd(contents: &str) -> EtcFile<PasswdEntry> {
    parse_lines(contents, |fields| match fields {
        [name, _, uid, gid, _, home, shell] => Some(PasswdEntry {
            name: (*name).to_owned(),
            uid: uid.parse().ok()?,
            gid: gid.parse().ok()?,
            home: (*home).to_owned(),
            shell: (*shell).to_owned(),
        }),
        _ => None,
    })
}

pub fn parse_group(contents: &str) -> EtcFile<GroupEntry> {
    parse_lines(contents, |fields| match fields {
        [name, _, gid, members] => Some(GroupEntry {
            name: (*name).to_owned(),
            gid: gid.parse().ok()?,
            members: members
                .split(',')
                .filter(|member| !member.is_empty())
                .map(str::to_owned)
                .collect(),
        }),
        _ => None,
    })
}

fn parse_lines<T>(contents: &str, parse_fields: impl Fn(&[&str]) -> Option<T>) -> EtcFile<T> {
    let mut file = EtcFile {
        entries: Vec::new(),
        malformed_lines: Vec::new(),
    };
    for (index, line) in contents.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = line.split(':').collect();
        let named = fields.first().is_some_and(|name| !name.is_empty());
        match parse_fields(&fields).filter(|_| named) {
            Some(entry) => file.entries.push(entry),
            None => file.malformed_lines.push(index + 1),
        }
    }
    file
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn reads_passwd_lines_and_reports_malformed_ones() {
        let passwd = "# users\nroot:x:0:0:root:/root:/bin/bash\n\nbroken line\n\
                      alice:x:1000:1000:Alice,,,:/home/alice:/bin/sh\r\nbob:x:notanumber:1:::\n:x:5:5::/:/bin/sh\n";
        let file = parse_passwd(passwd);
        assert_eq!(
            file.entries,
            vec![
                PasswdEntry {
                    name: "root".to_owned(),
                    uid: 0,
                    gid: 0,
                    home: "/root".to_owned(),
                    shell: "/bin/bash".to_owned(),
                },
                PasswdEntry {
                    name: "alice".to_owned(),
                    uid: 1000,
                    gid: 1000,
                    home: "/home/alice".to_owned(),
                    shell: "/bin/sh".to_owned(),
                },
            ]
        );
        assert_eq!(file.malformed_lines, vec![4, 6, 7]);
    }

    #[test]
    fn reads_group_members() {
        let file = parse_group("sudo:x:27:alice,bob\nusers:x:100:\nwheel:x:10\n");
        assert_eq!(
            file.entries,
            vec![
                GroupEntry {
                    name: "sudo".to_owned(),
                    gid: 27,
                    members: vec!["alice".to_owned(), "bob".to_owned()],
                },
                GroupEntry {
                    name: "users".to_owned(),
                    gid: 100,
                    members: Vec::new(),
                },
            ]
        );
        assert_eq!(file.malformed_lines, vec![3]);
    }

    proptest! {
        #[test]
        fn never_panics(contents in any::<String>()) {
            let _ = parse_passwd(&contents);
            let _ = parse_group(&contents);
        }

        #[test]
        fn never_panics_on_colon_separated_lines(contents in "([a-z0-9:,#]{0,30}\n){0,6}") {
            let _ = parse_passwd(&contents);
            let _ = parse_group(&contents);
        }
    }
}
