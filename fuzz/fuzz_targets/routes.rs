//! The router: any method and path give a route or none, never a panic, and
//! a route found is one the path really names.
//!
//! Input: the method, a newline, then the path (UTF-8).
#![no_main]

use libfuzzer_sys::fuzz_target;
use scalingo_db_fake::fuzzing::route;

fuzz_target!(|data: &[u8]| {
    let Some(split) = data.iter().position(|b| *b == b'\n') else {
        return;
    };
    let (method, path) = (&data[..split], &data[split + 1..]);
    let Ok(path) = std::str::from_utf8(path) else {
        return;
    };
    let Some(routed) = route(method, path) else {
        return;
    };
    // The path has as many segments as the template (one trailing slash
    // aside), and each id is one whole, non-empty segment of it.
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    let segments: Vec<&str> = trimmed.split('/').skip(1).collect();
    let template: Vec<&str> = routed.template.split('/').skip(1).collect();
    assert_eq!(segments.len(), template.len(), "{path:?} as {}", routed.template);
    for (t, s) in template.iter().zip(&segments) {
        assert!(!s.is_empty(), "an empty segment in {path:?}");
        if !t.starts_with(':') {
            assert_eq!(t, s, "{path:?} as {}", routed.template);
        }
    }
    for id in routed.ids.iter().filter(|id| !id.is_empty()) {
        assert!(segments.contains(id), "id {id:?} is not a segment of {path:?}");
    }
    // A method the route takes is in its `Allow` header.
    if let Some(op) = routed.operation {
        let method = std::str::from_utf8(method).unwrap_or("");
        assert!(
            routed.allow.split(", ").any(|m| m == method),
            "{method} runs {op} on {} but Allow is {:?}",
            routed.template,
            routed.allow
        );
    }
});
