//! Name rules for runs, fleets, volumes, gateways and groups (spec §1.2).

use super::error::{FieldPath, RuleViolation};

/// Checks `^[a-z][a-z0-9-]{1,40}$`, the rule for resource names.
pub fn check_resource_name(name: &str) -> Result<(), String> {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_lowercase());
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if first_ok && rest_ok && (2..=41).contains(&name.len()) {
        Ok(())
    } else {
        Err(format!(
            "invalid name \"{name}\": use 2 to 41 lower-case letters, digits or `-`, starting with a letter"
        ))
    }
}

/// Checks `^[a-z0-9][a-z0-9-]{0,39}$`, the rule for node and replica group names.
pub fn check_group_name(name: &str) -> Result<(), String> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(allowed);
    let rest_ok = chars.all(|c| allowed(c) || c == '-');
    if first_ok && rest_ok && name.len() <= 40 {
        Ok(())
    } else {
        Err(format!(
            "invalid group name \"{name}\": use 1 to 40 lower-case letters, digits or `-`, not starting with `-`"
        ))
    }
}

/// Group names must be valid and unique; unset names default to the group's position.
pub(crate) fn check_group_names<'a>(
    names: impl Iterator<Item = Option<&'a str>>,
    key: &str,
) -> Result<(), RuleViolation> {
    let mut seen = Vec::new();
    for (index, name) in names.enumerate() {
        let path = FieldPath::keys(&[key]).index(index).key("name");
        let name = match name {
            Some(name) => {
                check_group_name(name)
                    .map_err(|message| RuleViolation::new(path.clone(), message))?;
                name.to_owned()
            }
            None => index.to_string(),
        };
        if seen.contains(&name) {
            return Err(RuleViolation::new(
                path,
                format!("duplicate group name \"{name}\""),
            ));
        }
        seen.push(name);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_names() {
        for ok in ["ab", "my-run-1", &format!("a{}", "b".repeat(40))] {
            assert!(check_resource_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "a",
            "1run",
            "My-run",
            "run_1",
            &format!("a{}", "b".repeat(41)),
        ] {
            assert!(check_resource_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn group_names() {
        assert!(check_group_name("0").is_ok());
        assert!(check_group_name("workers-1").is_ok());
        assert!(check_group_name("-x").is_err());
        assert!(check_group_name("").is_err());
    }
}
