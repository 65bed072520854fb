//! Property tests: no parser panics on any input, and printed values parse back unchanged.

use dstack_core::duration::{Duration, IdleDuration, InactivityDuration, OffOrDuration};
use dstack_core::env::{Env, parse_item};
use dstack_core::memory::Memory;
use dstack_core::mounts::MountPoint;
use dstack_core::ports::PortMapping;
use dstack_core::range::Range;
use dstack_core::resources::{CpuArch, CpuSpec, DiskSpec, GpuSpec, ResourcesSpec};
use proptest::prelude::*;
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// Strings built from the characters the grammars care about, plus anything else.
fn grammar_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9a-zA-Z.:,*/ =_-]{0,24}",
        any::<String>(),
        "[0-9]{1,30}(\\.\\.)?[0-9]{0,30}[mMgGtTbB]{0,2}",
    ]
}

fn parse_all(text: &str) {
    let _ = text.parse::<Memory>();
    let _ = Range::<u32>::parse(text);
    let _ = Range::<Memory>::parse(text);
    let _ = Duration::parse(text);
    let _ = text.parse::<CpuSpec>();
    let _ = text.parse::<GpuSpec>();
    let _ = text.parse::<PortMapping>();
    let _ = text.parse::<MountPoint>();
    let _ = parse_item(text);
}

#[derive(Deserialize)]
struct Holder<T> {
    #[allow(dead_code)]
    v: T,
}

fn yaml<T: DeserializeOwned>(src: &str) {
    let _ = serde_saphyr::with_deserializer_from_str(src, |de| {
        serde_path_to_error::deserialize::<_, Holder<T>>(de).map_err(|e| e.into_inner())
    });
}

fn yaml_all(scalar: &str) {
    let src = format!("v: {scalar}\n");
    yaml::<Memory>(&src);
    yaml::<Range<u32>>(&src);
    yaml::<Range<Memory>>(&src);
    yaml::<Duration>(&src);
    yaml::<Option<OffOrDuration>>(&src);
    yaml::<Option<IdleDuration>>(&src);
    yaml::<Option<InactivityDuration>>(&src);
    yaml::<CpuSpec>(&src);
    yaml::<GpuSpec>(&src);
    yaml::<DiskSpec>(&src);
    yaml::<ResourcesSpec>(&src);
    yaml::<Env>(&src);
    yaml::<PortMapping>(&src);
    yaml::<MountPoint>(&src);
}

/// Sizes with at most six significant digits, which `%g`-style printing keeps exactly.
fn memory() -> impl Strategy<Value = Memory> {
    (0u32..1_000_000, 0i32..4).prop_map(|(digits, decimals)| {
        Memory::from_gb(f64::from(digits) / 10f64.powi(decimals)).unwrap_or_default()
    })
}

fn bounded<T: Copy + PartialOrd>(a: Option<T>, b: Option<T>) -> Option<(Option<T>, Option<T>)> {
    match (a, b) {
        (None, None) => None,
        (Some(x), Some(y)) if x > y => Some((Some(y), Some(x))),
        pair => Some(pair),
    }
}

proptest! {
    #[test]
    fn parsers_never_panic(text in grammar_text()) {
        parse_all(&text);
    }

    #[test]
    fn yaml_scalars_never_panic(text in grammar_text()) {
        yaml_all(&text);
        yaml_all(&format!("{text:?}"));
        yaml_all(&format!("[{text}]"));
        yaml_all(&format!("{{min: {text}}}"));
    }

    #[test]
    fn memory_display_parses_back(value in memory()) {
        prop_assert_eq!(value.to_string().parse::<Memory>(), Ok(value));
        let json = serde_json::to_string(&value).unwrap_or_default();
        prop_assert_eq!(serde_json::from_str::<Memory>(&json).ok(), Some(value));
    }

    #[test]
    fn count_range_display_parses_back(a in proptest::option::of(0u32..10_000), b in proptest::option::of(0u32..10_000)) {
        if let Some((min, max)) = bounded(a, b) {
            let range = Range { min, max };
            prop_assert_eq!(Range::<u32>::parse(&range.to_string()), Ok(range));
            let json = serde_json::to_string(&range).unwrap_or_default();
            prop_assert_eq!(serde_json::from_str::<Range<u32>>(&json).ok(), Some(range));
        }
    }

    #[test]
    fn memory_range_display_parses_back(a in proptest::option::of(memory()), b in proptest::option::of(memory())) {
        if let Some((min, max)) = bounded(a, b) {
            let range = Range { min, max };
            prop_assert_eq!(Range::<Memory>::parse(&range.to_string()), Ok(range));
        }
    }

    #[test]
    fn duration_display_parses_back(seconds in 0i64..10_000_000_000) {
        let duration = Duration::from_secs(seconds);
        prop_assert_eq!(Duration::parse(&duration.to_string()), Ok(duration));
    }

    #[test]
    fn cpu_spec_display_parses_back(
        arch in proptest::option::of(prop_oneof![Just(CpuArch::X86), Just(CpuArch::Arm)]),
        a in proptest::option::of(0u32..512),
        b in proptest::option::of(0u32..512),
    ) {
        if let Some((min, max)) = bounded(a, b) {
            let spec = CpuSpec { arch, count: Range { min, max } };
            prop_assert_eq!(spec.to_string().parse::<CpuSpec>(), Ok(spec));
        }
    }
}
