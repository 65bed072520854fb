//! Readable generated names (`adjective-noun-N`) for runs, fleets and volumes created without
//! one, and the retry that makes them unique: the database's unique index decides, and a
//! conflicting name is simply drawn again.

use std::future::Future;

use rand::Rng;
use rand::seq::IndexedRandom;

use super::ServiceError;
use crate::db::DbError;

const ADJECTIVES: &[&str] = &[
    "able", "bold", "brave", "bright", "calm", "clever", "cool", "crisp", "eager", "fair", "fast",
    "fine", "gentle", "glad", "grand", "happy", "keen", "kind", "light", "lucky", "merry",
    "mighty", "neat", "nice", "noble", "proud", "quick", "quiet", "rapid", "ready", "shiny",
    "smart", "snowy", "solid", "sunny", "swift", "tidy", "warm", "wise", "witty",
];

const NOUNS: &[&str] = &[
    "ant", "bat", "bear", "bee", "bison", "cat", "cobra", "crab", "crane", "crow", "deer", "dog",
    "dove", "duck", "eagle", "eel", "elk", "falcon", "fox", "frog", "goat", "hawk", "horse",
    "ibis", "jay", "koala", "lamb", "lion", "lynx", "mole", "moose", "mouse", "newt", "otter",
    "owl", "panda", "puma", "quail", "seal", "shrimp", "snail", "squid", "swan", "tiger", "toad",
    "trout", "wasp", "whale", "wolf", "yak", "zebra",
];

/// The largest `N` in a generated name.
const MAX_SUFFIX: u32 = 99;

/// How many names are drawn before giving up; with ~200,000 names a run of conflicts this
/// long means the scope is nearly full.
const ATTEMPTS: usize = 32;

/// A fresh `adjective-noun-N` name, e.g. `swift-otter-7`.
pub fn generate() -> String {
    let mut rng = rand::rng();
    let adjective = ADJECTIVES.choose(&mut rng).copied().unwrap_or("quick");
    let noun = NOUNS.choose(&mut rng).copied().unwrap_or("fox");
    let suffix = rng.random_range(1..=MAX_SUFFIX);
    format!("{adjective}-{noun}-{suffix}")
}

/// Calls `insert` with `name`, or with generated names until one is not taken.
///
/// A given name that is taken is the caller's conflict and comes back as the error `insert`
/// returned; a generated name that is taken is drawn again.
pub async fn insert_named<T, F, Fut>(name: Option<&str>, mut insert: F) -> Result<T, ServiceError>
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<T, ServiceError>>,
{
    if let Some(name) = name {
        return insert(name.to_owned()).await;
    }
    for _ in 0..ATTEMPTS {
        match insert(generate()).await {
            Err(ServiceError::Db(DbError::UniqueViolation))
            | Err(ServiceError::AlreadyExists(_)) => {
                continue;
            }
            result => return result,
        }
    }
    Err(ServiceError::Invalid(
        "cannot generate a free name; give the resource a name".to_owned(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_names_are_valid_resource_names() {
        for _ in 0..1000 {
            let name = generate();
            let parts: Vec<&str> = name.split('-').collect();
            assert_eq!(parts.len(), 3, "{name}");
            assert!(ADJECTIVES.contains(&parts[0]), "{name}");
            assert!(NOUNS.contains(&parts[1]), "{name}");
            let suffix: u32 = parts[2].parse().expect("numeric suffix");
            assert!((1..=MAX_SUFFIX).contains(&suffix), "{name}");
            assert!(super::super::is_valid_name(&name, 41), "{name}");
        }
    }

    #[tokio::test]
    async fn a_taken_generated_name_is_drawn_again() {
        let mut candidates = Vec::new();
        let name = insert_named(None, |candidate| {
            candidates.push(candidate.clone());
            let taken = candidates.len() <= 3;
            async move {
                if taken {
                    Err(ServiceError::Db(DbError::UniqueViolation))
                } else {
                    Ok(candidate)
                }
            }
        })
        .await
        .expect("a free name after three conflicts");
        assert_eq!(candidates.len(), 4);
        assert_eq!(name, candidates[3]);
    }

    #[tokio::test]
    async fn a_taken_given_name_is_the_callers_conflict() {
        let result: Result<String, _> = insert_named(Some("my-run"), |candidate| async move {
            Err(ServiceError::AlreadyExists(format!("{candidate} exists")))
        })
        .await;
        assert!(matches!(result, Err(ServiceError::AlreadyExists(msg)) if msg == "my-run exists"));
    }
}
