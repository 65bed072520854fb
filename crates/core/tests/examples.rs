//! Every configuration under the repository's `examples/` parses and passes validation.

use std::path::PathBuf;

use dstack_core::configuration::parse_configuration;

#[test]
fn every_example_parses() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("{}: {error}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    entries.sort();
    assert!(
        entries.len() >= 8,
        "expected the 8 examples, found {}",
        entries.len()
    );
    let mut types = Vec::new();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        match parse_configuration(&name, &text) {
            Ok(configuration) => types.push(configuration.type_name()),
            Err(error) => panic!("{error}"),
        }
    }
    types.sort_unstable();
    types.dedup();
    assert_eq!(
        types,
        [
            "dev-environment",
            "fleet",
            "gateway",
            "service",
            "task",
            "volume"
        ]
    );
}
