//! The Range evaluator: any `Range` and `If-Range` values and any length
//! give a decision, never a panic, and a partial range lies within the body.
//!
//! Input: 8 bytes of length (little-endian, kept under 2^62), then the
//! `Range` value, a newline, the `If-Range` value (absent when empty).
#![no_main]

use libfuzzer_sys::fuzz_target;
use scalingo_db_fake::download::range::{content_range, evaluate, unsatisfied_range, RangeOutcome};

const ETAG: &str = "\"abc-12\"";

fuzz_target!(|data: &[u8]| {
    if data.len() < 8 {
        return;
    }
    let (len, rest) = data.split_at(8);
    let len = u64::from_le_bytes(len.try_into().unwrap()) >> 2;
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let (range, if_range) = text.split_once('\n').unwrap_or((text, ""));
    let if_range = (!if_range.is_empty()).then_some(if_range);
    match evaluate(Some(range), if_range, ETAG, len) {
        RangeOutcome::Partial(r) => {
            assert!(r.start < r.end && r.end <= len, "{range:?} on {len} bytes gave {r:?}");
            let header = content_range(&r, len);
            assert!(header.starts_with("bytes ") && header.ends_with(&format!("/{len}")));
        }
        RangeOutcome::Unsatisfiable => {
            assert!(if_range.is_none() || if_range == Some(ETAG));
            let _ = unsatisfied_range(len);
        }
        RangeOutcome::Full => {}
    }
    // No Range at all is always the whole body.
    assert_eq!(evaluate(None, if_range, ETAG, len), RangeOutcome::Full);
});
