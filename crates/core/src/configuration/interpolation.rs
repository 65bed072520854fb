//! `${{ namespace.name }}` references in configuration values (spec §1.3).
//!
//! - [`interpolate`]: replaces references through a resolver; `$$` stands for `$`.
//! - [`Resolution`]: what the resolver does with each reference.
//! - [`check_command_references`], [`check_env_references`]: the references each field may hold
//!   before anything is resolved.

/// What to do with one reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// Put this value in its place.
    Value(String),
    /// Leave the reference as written; a later stage resolves it.
    Keep,
    /// The reference names a variable that does not exist.
    Missing,
    /// The reference is not allowed here; the message says why.
    Forbidden(String),
}

/// Why a text could not be interpolated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InterpolationError {
    /// `${{` without a matching `}}`.
    #[error("no closing `}}}}` for the reference in \"{text}\"")]
    Unclosed {
        /// The whole text.
        text: String,
    },
    /// A reference that is not `namespace.name`.
    #[error("illegal reference name `{name}`, expected `namespace.name`")]
    IllegalName {
        /// The reference as written, trimmed.
        name: String,
    },
    /// References to variables that do not exist.
    #[error("failed to interpolate due to missing vars: {}", names.join(", "))]
    Missing {
        /// Every missing reference, in order.
        names: Vec<String>,
    },
    /// A reference the field may not hold.
    #[error("{0}")]
    Forbidden(String),
}

/// Whether `part` starts with a letter or `_` and holds only letters, digits and `_`.
fn is_identifier(part: &str) -> bool {
    let mut chars = part.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Whether `name` is `groups[i].nodes[j].IP_ADDRESS` or `groups[i].replicas[j].IP_ADDRESS`:
/// a run-time reference with more than one dot.
fn is_group_reference(name: &str) -> bool {
    let indexed = |part: &str, word: &str| {
        part.strip_prefix(word)
            .and_then(|rest| rest.strip_prefix('['))
            .and_then(|rest| rest.strip_suffix(']'))
            .is_some_and(|index| !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()))
    };
    let parts: Vec<&str> = name.split('.').collect();
    match parts.as_slice() {
        [group, member, "IP_ADDRESS"] => {
            indexed(group, "groups") && (indexed(member, "nodes") || indexed(member, "replicas"))
        }
        _ => false,
    }
}

fn check_name(name: &str) -> Result<(), InterpolationError> {
    let valid = is_group_reference(name)
        || name
            .split_once('.')
            .is_some_and(|(namespace, rest)| is_identifier(namespace) && is_identifier(rest));
    if valid {
        Ok(())
    } else {
        Err(InterpolationError::IllegalName {
            name: name.to_owned(),
        })
    }
}

/// Replaces every `${{ namespace.name }}` in `text` as `resolve` says; `$$` becomes `$`.
pub fn interpolate(
    text: &str,
    mut resolve: impl FnMut(&str) -> Resolution,
) -> Result<String, InterpolationError> {
    let mut out = String::with_capacity(text.len());
    let mut missing = Vec::new();
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar..];
        if let Some(tail) = after.strip_prefix("$$") {
            out.push('$');
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${{") {
            let end = tail
                .find("}}")
                .ok_or_else(|| InterpolationError::Unclosed {
                    text: text.to_owned(),
                })?;
            let name = tail[..end].trim();
            check_name(name)?;
            match resolve(name) {
                Resolution::Value(value) => out.push_str(&value),
                Resolution::Keep => out.push_str(&after[..end + 5]),
                Resolution::Missing => missing.push(name.to_owned()),
                Resolution::Forbidden(message) => {
                    return Err(InterpolationError::Forbidden(message));
                }
            }
            rest = &tail[end + 2..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(InterpolationError::Missing { names: missing })
    }
}

/// `commands` may hold `run.*` and `secrets.*` references and group addresses, all resolved
/// later; anything else is an error.
pub fn check_command_references(command: &str) -> Result<(), InterpolationError> {
    interpolate(command, |name| {
        let namespace = name.split('.').next().unwrap_or_default();
        if matches!(namespace, "run" | "secrets") || is_group_reference(name) {
            Resolution::Keep
        } else {
            Resolution::Forbidden(format!(
                "`${{{{ {name} }}}}` cannot be used in `commands`, only `run.*`, `secrets.*` and group IP addresses can"
            ))
        }
    })
    .map(drop)
}

/// `env` values may hold any reference except group addresses, which exist only in commands.
pub fn check_env_references(value: &str) -> Result<(), InterpolationError> {
    interpolate(value, |name| {
        if is_group_reference(name) {
            Resolution::Forbidden(
                "groups IP references are only supported in commands, not in `env`".into(),
            )
        } else {
            Resolution::Keep
        }
    })
    .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve_env(name: &str) -> Resolution {
        match name {
            "env.USER" => Resolution::Value("alice".into()),
            "secrets.TOKEN" => Resolution::Keep,
            _ => Resolution::Missing,
        }
    }

    #[test]
    fn replaces_keeps_and_escapes() {
        let text = "hi ${{ env.USER }}, $$HOME ${{secrets.TOKEN}} $PATH";
        assert_eq!(
            interpolate(text, resolve_env).as_deref(),
            Ok("hi alice, $HOME ${{secrets.TOKEN}} $PATH")
        );
    }

    #[test]
    fn reports_missing_unclosed_and_illegal() {
        assert_eq!(
            interpolate("${{ env.A }} ${{ env.B }}", resolve_env),
            Err(InterpolationError::Missing {
                names: vec!["env.A".into(), "env.B".into()]
            })
        );
        assert!(matches!(
            interpolate("${{ env.A ", resolve_env),
            Err(InterpolationError::Unclosed { .. })
        ));
        for illegal in ["${{ env }}", "${{ a.b.c }}", "${{ 1a.b }}", "${{ }}"] {
            assert!(
                matches!(
                    interpolate(illegal, resolve_env),
                    Err(InterpolationError::IllegalName { .. })
                ),
                "{illegal}"
            );
        }
    }

    #[test]
    fn commands_and_env_allow_different_references() {
        let command = "torchrun --master ${{ groups[0].nodes[0].IP_ADDRESS }} ${{ run.args }}";
        assert_eq!(check_command_references(command), Ok(()));
        assert!(check_command_references("echo ${{ env.X }}").is_err());
        assert_eq!(check_env_references("${{ secrets.HF }}"), Ok(()));
        assert!(check_env_references("${{ groups[1].replicas[0].IP_ADDRESS }}").is_err());
    }
}
