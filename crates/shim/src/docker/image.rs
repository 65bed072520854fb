//! Image references as the shim pulls them.

/// An image name with its tag made explicit: `ubuntu` becomes `ubuntu:latest`. A registry
/// port (`registry:5000/img`) is not a tag, and a digest (`img@sha256:...`) needs none.
pub fn with_explicit_tag(image: &str) -> String {
    let last_component = image.rsplit('/').next().unwrap_or(image);
    if image.contains('@') || last_component.contains(':') {
        image.to_owned()
    } else {
        format!("{image}:latest")
    }
}

/// Whether the reference asks for `:latest`, which is pulled again even when present, since
/// the name alone does not say which build is wanted.
pub fn is_latest(image: &str) -> bool {
    image.ends_with(":latest")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_made_explicit() {
        assert_eq!(with_explicit_tag("ubuntu"), "ubuntu:latest");
        assert_eq!(with_explicit_tag("ubuntu:24.04"), "ubuntu:24.04");
        assert_eq!(
            with_explicit_tag("registry:5000/team/img"),
            "registry:5000/team/img:latest"
        );
        assert_eq!(
            with_explicit_tag("registry:5000/img:v1"),
            "registry:5000/img:v1"
        );
        assert_eq!(with_explicit_tag("img@sha256:abcd"), "img@sha256:abcd");
    }

    #[test]
    fn latest_is_recognised() {
        assert!(is_latest("dstack-test/busybox:latest"));
        assert!(!is_latest("dstackai/base:0.15"));
    }
}
