//! HTTP `Range` / `If-Range` evaluation for a single-resource GET (RFC 9110 §14).
//!
//! This module owns the decision between a full `200`, a partial `206` and a
//! `416` response for a backup archive download, and the `Content-Range`
//! header values that go with the last two. It only ever serves a single byte
//! range: a request for several ranges that could be satisfied is answered with
//! the whole body (`200`), which RFC 9110 §14.2 allows ("a server MAY ignore
//! the Range header field"), rather than with a `multipart/byteranges` body.
//! Anything it cannot parse is likewise ignored and served in full, as the RFC
//! requires of an invalid or unknown-unit `Range`. It never panics, whatever
//! the header values.

use std::ops::Range;

/// What to answer to a GET, given its `Range` and `If-Range` headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeOutcome {
    /// Serve `200 OK` with the whole body.
    Full,
    /// Serve `206 Partial Content` with the bytes `start..end` of the body
    /// (`end` exclusive; never empty, always within the body), with
    /// [`content_range`] as its `Content-Range`.
    Partial(Range<u64>),
    /// Serve `416 Range Not Satisfiable` with [`unsatisfied_range`] as its
    /// `Content-Range`.
    Unsatisfiable,
}

/// Decides how to answer a GET of a body of `len` bytes.
///
/// `range` is the `Range` header value if any, `if_range` the `If-Range`
/// header value if any, and `etag` the body's current strong entity tag,
/// quotes included (e.g. `"\"abc-12\""`).
///
/// - No `Range`, a unit other than `bytes` (compared case-insensitively), or a
///   syntactically invalid value (including a number too large for `u64`, or
///   `first > last`) gives [`RangeOutcome::Full`]. Spaces and tabs around the
///   unit, the `=`, each range and each number are tolerated.
/// - An `If-Range` that is not strongly equal to `etag` (an HTTP-date, a weak
///   tag or another tag) gives [`RangeOutcome::Full`], whatever the `Range`.
/// - `bytes=a-b` is `a..=min(b, len-1)`, `bytes=a-` is `a..len`, and
///   `bytes=-n` is the last `n` bytes (the whole body when `n >= len`); a range
///   whose first byte is at or past `len`, a `bytes=-0`, or any range of an
///   empty body is unsatisfiable.
/// - One range gives [`RangeOutcome::Partial`] or
///   [`RangeOutcome::Unsatisfiable`]. Several ranges give
///   [`RangeOutcome::Unsatisfiable`] if none of them can be satisfied, and
///   otherwise [`RangeOutcome::Full`], since multipart responses are not
///   served.
pub fn evaluate(range: Option<&str>, if_range: Option<&str>, etag: &str, len: u64) -> RangeOutcome {
    let Some(range) = range else {
        return RangeOutcome::Full;
    };
    if let Some(validator) = if_range {
        if !strong_match(validator, etag) {
            return RangeOutcome::Full;
        }
    }
    let Some(specs) = parse(range) else {
        return RangeOutcome::Full;
    };
    let mut satisfiable = specs.iter().filter_map(|spec| spec.resolve(len));
    match (specs.len(), satisfiable.next()) {
        (_, None) => RangeOutcome::Unsatisfiable,
        (1, Some(range)) => RangeOutcome::Partial(range),
        (_, Some(_)) => RangeOutcome::Full,
    }
}

/// The `Content-Range` value of a partial response: `"bytes START-END/LEN"`,
/// with `END` inclusive, for a range that [`evaluate`] returned as
/// [`RangeOutcome::Partial`].
pub fn content_range(range: &Range<u64>, len: u64) -> String {
    format!("bytes {}-{}/{}", range.start, range.end.saturating_sub(1), len)
}

/// The `Content-Range` value of a `416` response: `"bytes */LEN"`.
pub fn unsatisfied_range(len: u64) -> String {
    format!("bytes */{len}")
}

/// One `range-spec` of a `bytes` range set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spec {
    /// `first-last`, or `first-` when `last` is `None`; `first <= last`.
    FromTo { first: u64, last: Option<u64> },
    /// `-length`: the last `length` bytes.
    Suffix { length: u64 },
}

impl Spec {
    /// The non-empty byte range this spec selects in a body of `len` bytes,
    /// or `None` when it is unsatisfiable there.
    fn resolve(self, len: u64) -> Option<Range<u64>> {
        let range = match self {
            Spec::FromTo { first, last } => {
                if first >= len {
                    return None;
                }
                let end = match last {
                    Some(last) => last.min(len - 1) + 1,
                    None => len,
                };
                first..end
            }
            Spec::Suffix { length } => len - length.min(len)..len,
        };
        (!range.is_empty()).then_some(range)
    }
}

/// Whether an `If-Range` value strongly matches `etag`: both are the same
/// strong entity tag. A weak tag or an HTTP-date never matches.
fn strong_match(validator: &str, etag: &str) -> bool {
    let validator = validator.trim_matches(is_ows);
    is_strong_etag(etag) && validator == etag
}

/// Whether `tag` has the shape of a strong entity tag: `"` opaque `"`.
fn is_strong_etag(tag: &str) -> bool {
    tag.len() >= 2 && tag.starts_with('"') && tag.ends_with('"')
}

/// Parses a `Range` value of unit `bytes` into its range specs, or `None`
/// when it has another unit or is invalid. Empty list elements are skipped
/// (RFC 9110 §5.6.1), but at least one range must be present.
fn parse(value: &str) -> Option<Vec<Spec>> {
    let (unit, set) = value.split_once('=')?;
    if !unit.trim_matches(is_ows).eq_ignore_ascii_case("bytes") {
        return None;
    }
    let specs = set
        .split(',')
        .map(|element| element.trim_matches(is_ows))
        .filter(|element| !element.is_empty())
        .map(parse_spec)
        .collect::<Option<Vec<_>>>()?;
    (!specs.is_empty()).then_some(specs)
}

/// Parses one `range-spec`: `first-last`, `first-` or `-suffix`.
fn parse_spec(spec: &str) -> Option<Spec> {
    let (first, last) = spec.split_once('-')?;
    let first = first.trim_matches(is_ows);
    let last = last.trim_matches(is_ows);
    if first.is_empty() {
        return Some(Spec::Suffix {
            length: parse_number(last)?,
        });
    }
    let first = parse_number(first)?;
    if last.is_empty() {
        return Some(Spec::FromTo { first, last: None });
    }
    let last = parse_number(last)?;
    (first <= last).then_some(Spec::FromTo {
        first,
        last: Some(last),
    })
}

/// Parses a non-empty run of ASCII digits as a `u64`; signs, other characters
/// and overflow give `None`.
fn parse_number(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// Optional whitespace (RFC 9110 §5.6.3): space or horizontal tab.
fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ETAG: &str = "\"abc-12\"";
    const LEN: u64 = 1000;

    fn eval(range: &str) -> RangeOutcome {
        evaluate(Some(range), None, ETAG, LEN)
    }

    fn partial(range: Range<u64>) -> RangeOutcome {
        RangeOutcome::Partial(range)
    }

    #[test]
    fn no_range_header_serves_the_full_body() {
        assert_eq!(evaluate(None, None, ETAG, LEN), RangeOutcome::Full);
        assert_eq!(evaluate(None, Some(ETAG), ETAG, LEN), RangeOutcome::Full);
        assert_eq!(evaluate(None, None, ETAG, 0), RangeOutcome::Full);
    }

    #[test]
    fn closed_range_is_served_inclusively() {
        assert_eq!(eval("bytes=0-499"), partial(0..500));
        assert_eq!(eval("bytes=500-999"), partial(500..1000));
        assert_eq!(eval("bytes=10-10"), partial(10..11));
    }

    #[test]
    fn closed_range_past_the_end_is_clamped() {
        assert_eq!(eval("bytes=900-5000"), partial(900..1000));
        assert_eq!(eval("bytes=0-18446744073709551615"), partial(0..1000));
        assert_eq!(
            evaluate(Some("bytes=0-18446744073709551615"), None, ETAG, u64::MAX),
            partial(0..u64::MAX)
        );
    }

    #[test]
    fn open_range_runs_to_the_end() {
        assert_eq!(eval("bytes=0-"), partial(0..1000));
        assert_eq!(eval("bytes=999-"), partial(999..1000));
    }

    #[test]
    fn suffix_range_serves_the_last_bytes() {
        assert_eq!(eval("bytes=-1"), partial(999..1000));
        assert_eq!(eval("bytes=-500"), partial(500..1000));
        assert_eq!(eval("bytes=-1000"), partial(0..1000));
    }

    #[test]
    fn suffix_longer_than_the_body_serves_the_whole_body_as_partial() {
        assert_eq!(eval("bytes=-1001"), partial(0..1000));
        assert_eq!(eval("bytes=-18446744073709551615"), partial(0..1000));
    }

    #[test]
    fn zero_length_suffix_is_unsatisfiable() {
        assert_eq!(eval("bytes=-0"), RangeOutcome::Unsatisfiable);
    }

    #[test]
    fn first_position_at_or_past_the_end_is_unsatisfiable() {
        assert_eq!(eval("bytes=1000-"), RangeOutcome::Unsatisfiable);
        assert_eq!(eval("bytes=1000-1000"), RangeOutcome::Unsatisfiable);
        assert_eq!(eval("bytes=5000-6000"), RangeOutcome::Unsatisfiable);
    }

    #[test]
    fn any_range_of_an_empty_body_is_unsatisfiable() {
        for range in ["bytes=0-", "bytes=0-0", "bytes=-1", "bytes=-0", "bytes=0-1,-5"] {
            assert_eq!(
                evaluate(Some(range), None, ETAG, 0),
                RangeOutcome::Unsatisfiable,
                "{range}"
            );
        }
    }

    #[test]
    fn other_units_are_ignored() {
        assert_eq!(eval("items=0-5"), RangeOutcome::Full);
        assert_eq!(eval("bits=0-5"), RangeOutcome::Full);
        assert_eq!(eval("bytesx=0-5"), RangeOutcome::Full);
        assert_eq!(eval("=0-5"), RangeOutcome::Full);
    }

    #[test]
    fn unit_is_case_insensitive() {
        assert_eq!(eval("Bytes=0-4"), partial(0..5));
        assert_eq!(eval("BYTES=0-4"), partial(0..5));
    }

    #[test]
    fn malformed_ranges_are_ignored() {
        for range in [
            "",
            "bytes",
            "bytes=",
            "bytes= ",
            "bytes=,",
            "bytes=-",
            "bytes=abc",
            "bytes=5",
            "bytes=a-5",
            "bytes=5-b",
            "bytes=+5-10",
            "bytes=5-+10",
            "bytes=--5",
            "bytes=-+5",
            "bytes=-5-",
            "bytes=1-2-3",
            "bytes=0x10-20",
            "bytes=1 0-20",
            "bytes=0-499;q=1",
            "bytes==0-5",
            "0-499",
            "bytes=٣-٥",
            "bytes=0-1,foo",
        ] {
            assert_eq!(eval(range), RangeOutcome::Full, "{range:?}");
        }
    }

    #[test]
    fn reversed_range_is_malformed_and_ignored() {
        assert_eq!(eval("bytes=500-499"), RangeOutcome::Full);
        assert_eq!(eval("bytes=5000-10"), RangeOutcome::Full);
        assert_eq!(evaluate(Some("bytes=5-1"), None, ETAG, 0), RangeOutcome::Full);
    }

    #[test]
    fn numbers_overflowing_u64_are_malformed_and_ignored() {
        assert_eq!(eval("bytes=18446744073709551616-"), RangeOutcome::Full);
        assert_eq!(eval("bytes=0-18446744073709551616"), RangeOutcome::Full);
        assert_eq!(eval("bytes=-18446744073709551616"), RangeOutcome::Full);
        assert_eq!(eval(&format!("bytes=0-{}", "9".repeat(10_000))), RangeOutcome::Full);
    }

    #[test]
    fn whitespace_around_tokens_is_tolerated() {
        assert_eq!(eval(" bytes = 0 - 499 "), partial(0..500));
        assert_eq!(eval("bytes=\t-5\t"), partial(995..1000));
        assert_eq!(eval("bytes=10- "), partial(10..1000));
        assert_eq!(eval("bytes=0-1 , 5-6"), RangeOutcome::Full);
    }

    #[test]
    fn empty_list_elements_are_skipped() {
        assert_eq!(eval("bytes=,0-4"), partial(0..5));
        assert_eq!(eval("bytes=0-4,,"), partial(0..5));
    }

    #[test]
    fn several_ranges_serve_the_full_body() {
        assert_eq!(eval("bytes=0-4,10-14"), RangeOutcome::Full);
        assert_eq!(eval("bytes=0-4,0-4"), RangeOutcome::Full);
        assert_eq!(eval("bytes=-1,5000-"), RangeOutcome::Full);
        assert_eq!(eval("bytes=5000-,0-0"), RangeOutcome::Full);
    }

    #[test]
    fn several_ranges_all_unsatisfiable_are_unsatisfiable() {
        assert_eq!(eval("bytes=1000-,5000-6000"), RangeOutcome::Unsatisfiable);
        assert_eq!(eval("bytes=-0,1000-"), RangeOutcome::Unsatisfiable);
    }

    #[test]
    fn several_ranges_with_a_malformed_one_are_ignored() {
        assert_eq!(eval("bytes=1000-,5-1"), RangeOutcome::Full);
        assert_eq!(eval("bytes=1000-,x"), RangeOutcome::Full);
    }

    #[test]
    fn matching_if_range_lets_the_range_apply() {
        assert_eq!(evaluate(Some("bytes=0-4"), Some(ETAG), ETAG, LEN), partial(0..5));
        assert_eq!(
            evaluate(Some("bytes=0-4"), Some(" \"abc-12\" "), ETAG, LEN),
            partial(0..5)
        );
        assert_eq!(
            evaluate(Some("bytes=5000-"), Some(ETAG), ETAG, LEN),
            RangeOutcome::Unsatisfiable
        );
    }

    #[test]
    fn mismatched_if_range_serves_the_full_body() {
        for validator in [
            "\"other\"",
            "\"abc-1\"",
            "abc-12",
            "W/\"abc-12\"",
            "\"ABC-12\"",
            "",
            "*",
        ] {
            assert_eq!(
                evaluate(Some("bytes=0-4"), Some(validator), ETAG, LEN),
                RangeOutcome::Full,
                "{validator:?}"
            );
        }
    }

    #[test]
    fn http_date_if_range_counts_as_not_matching() {
        assert_eq!(
            evaluate(Some("bytes=0-4"), Some("Wed, 21 Oct 2015 07:28:00 GMT"), ETAG, LEN),
            RangeOutcome::Full
        );
    }

    #[test]
    fn mismatched_if_range_wins_over_an_unsatisfiable_range() {
        assert_eq!(
            evaluate(Some("bytes=5000-"), Some("\"old\""), ETAG, LEN),
            RangeOutcome::Full
        );
    }

    #[test]
    fn weak_current_etag_never_matches_if_range() {
        let weak = "W/\"abc-12\"";
        assert_eq!(evaluate(Some("bytes=0-4"), Some(weak), weak, LEN), RangeOutcome::Full);
    }

    #[test]
    fn content_range_is_inclusive_with_the_length() {
        assert_eq!(content_range(&(0..500), 1000), "bytes 0-499/1000");
        assert_eq!(content_range(&(999..1000), 1000), "bytes 999-999/1000");
        assert_eq!(
            content_range(&(0..u64::MAX), u64::MAX),
            "bytes 0-18446744073709551614/18446744073709551615"
        );
    }

    #[test]
    fn content_range_of_an_empty_range_does_not_panic() {
        assert_eq!(content_range(&(0..0), 0), "bytes 0-0/0");
    }

    #[test]
    fn unsatisfied_range_names_only_the_length() {
        assert_eq!(unsatisfied_range(1000), "bytes */1000");
        assert_eq!(unsatisfied_range(0), "bytes */0");
    }

    fn range_header() -> impl Strategy<Value = String> {
        let number = prop_oneof![
            (0u64..2000).prop_map(|n| n.to_string()),
            any::<u64>().prop_map(|n| n.to_string()),
            Just(String::new()),
        ];
        let spec = (number.clone(), number).prop_map(|(a, b)| format!("{a}-{b}"));
        proptest::collection::vec(spec, 1..4).prop_map(|specs| format!("bytes={}", specs.join(",")))
    }

    proptest! {
        #[test]
        fn partial_ranges_are_non_empty_and_within_the_body(
            range in range_header(),
            len in prop_oneof![0u64..2000, any::<u64>()],
        ) {
            if let RangeOutcome::Partial(r) = evaluate(Some(&range), Some(ETAG), ETAG, len) {
                prop_assert!(r.start < r.end, "{range} on {len}: {r:?}");
                prop_assert!(r.end <= len, "{range} on {len}: {r:?}");
                let shown = content_range(&r, len);
                prop_assert!(shown.starts_with("bytes "));
            }
        }

        #[test]
        fn single_closed_range_inside_the_body_is_served_exactly(
            len in 1u64..10_000,
            a in 0u64..10_000,
            b in 0u64..10_000,
        ) {
            let (first, last) = (a.min(b), a.max(b));
            let outcome = evaluate(Some(&format!("bytes={first}-{last}")), None, ETAG, len);
            if first >= len {
                prop_assert_eq!(outcome, RangeOutcome::Unsatisfiable);
            } else {
                prop_assert_eq!(outcome, RangeOutcome::Partial(first..last.min(len - 1) + 1));
            }
        }

        #[test]
        fn arbitrary_header_strings_never_panic(
            range in proptest::option::of(any::<String>()),
            if_range in proptest::option::of(any::<String>()),
            etag in any::<String>(),
            len in any::<u64>(),
        ) {
            let outcome = evaluate(range.as_deref(), if_range.as_deref(), &etag, len);
            if let RangeOutcome::Partial(r) = outcome {
                prop_assert!(r.start < r.end && r.end <= len);
            }
        }

        #[test]
        fn range_like_header_strings_never_panic(
            range in "[bB][yY][tT][eE][sS] ?=[0-9 ,\\-\t]{0,40}",
            len in prop_oneof![0u64..50, any::<u64>()],
        ) {
            let outcome = evaluate(Some(&range), None, ETAG, len);
            if let RangeOutcome::Partial(r) = outcome {
                prop_assert!(r.start < r.end && r.end <= len);
            }
        }
    }
}
