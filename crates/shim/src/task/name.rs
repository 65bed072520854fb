//! The container name of a task: the job name and a short hash of the job name and task id,
//! so names are readable, unique per task, and the same on every shim.

use sha2::{Digest, Sha256};

/// `<name>-<first 8 hex digits of sha256("<name>/<id>")>`.
pub fn container_name(name: &str, id: &str) -> String {
    let digest = Sha256::digest(format!("{name}/{id}").as_bytes());
    let suffix: String = digest[..4]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("{name}-{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_dstack_vectors() {
        let vectors = [
            (
                "vllm-0-0",
                "66a886db-86db-4cf9-8c06-8984ad15dde2",
                "vllm-0-0-cff1b8da",
            ),
            (
                "vllm-0-0",
                "41728e34-bf7e-41da-bf0e-0f46764b1752",
                "vllm-0-0-bb2a28c3",
            ),
            (
                "llamacpp-0-0",
                "66a886db-86db-4cf9-8c06-8984ad15dde2",
                "llamacpp-0-0-58d1283d",
            ),
        ];
        for (name, id, expected) in vectors {
            assert_eq!(container_name(name, id), expected);
        }
    }
}
