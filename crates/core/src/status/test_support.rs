//! Helpers that check a status enum against a table from the spec, exhaustively over `ALL`.

use std::collections::HashSet;
use std::fmt::Debug;
use std::hash::Hash;

use super::transition::Transitions;

/// Looks up `value` in a table of `(value, expected)` rows, failing if no row names it, so a
/// new variant without a row fails the test.
pub fn row<'t, T: PartialEq + Debug, R>(table: &'t [(T, R)], value: &T) -> &'t R {
    match table.iter().find(|(key, _)| key == value) {
        Some((_, expected)) => expected,
        None => panic!("no table row for {value:?}"),
    }
}

/// Checks that exactly the variants in `members` satisfy `predicate`.
pub fn assert_members<T: Copy + PartialEq + Debug>(
    all: &[T],
    members: &[T],
    predicate: impl Fn(T) -> bool,
) {
    for &value in all {
        assert_eq!(predicate(value), members.contains(&value), "{value:?}");
    }
}

/// Checks every pair of statuses against the list of allowed moves.
pub fn assert_transitions<S: Transitions + PartialEq + Debug>(all: &[S], allowed: &[(S, S)]) {
    for &from in all {
        for &to in all {
            let expected = allowed.contains(&(from, to));
            assert_eq!(from.can_transition_to(to), expected, "{from:?} -> {to:?}");
            assert_eq!(
                from.check_transition(to).is_ok(),
                expected,
                "{from:?} -> {to:?}"
            );
        }
    }
}

/// Checks that every value has a non-empty message and no two values share one.
pub fn assert_messages<T: Copy + Eq + Hash + Debug>(
    all: &[T],
    message: impl Fn(T) -> &'static str,
) {
    let mut seen = HashSet::new();
    for &value in all {
        let text = message(value);
        assert!(!text.trim().is_empty(), "{value:?} has an empty message");
        assert!(
            seen.insert(text),
            "{value:?} repeats another message: {text}"
        );
    }
}
