//! Timestamps as the API writes them: RFC 3339 with milliseconds and a
//! numeric offset (`2018-09-02T03:00:00.178+02:00`).
//!
//! A [`Timestamp`] keeps the instant (milliseconds since the Unix epoch) for
//! arithmetic and ordering, the offset for rendering, and — when it came from
//! a fixture — the very text it was written with, so fixture values come back
//! byte for byte even when they use a form we would not produce ourselves.

use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, FixedOffset, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An instant with the offset it is shown in, and its original text if any.
///
/// The text is made once, when the timestamp is: rendering one is a copy.
#[derive(Clone, Debug)]
pub struct Timestamp {
    millis: i64,
    offset_secs: i32,
    text: Arc<str>,
}

impl Timestamp {
    /// The instant `millis` (since the Unix epoch) shown in UTC (`+00:00`).
    pub fn from_millis(millis: i64) -> Self {
        Self::rendered(millis, 0)
    }

    fn rendered(millis: i64, offset_secs: i32) -> Self {
        let offset = FixedOffset::east_opt(offset_secs).unwrap_or(chrono::Offset::fix(&Utc));
        let utc = Utc
            .timestamp_millis_opt(millis)
            .single()
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let text = utc
            .with_timezone(&offset)
            .format("%Y-%m-%dT%H:%M:%S%.3f%:z")
            .to_string();
        Self {
            millis,
            offset_secs: offset.local_minus_utc(),
            text: Arc::from(text),
        }
    }

    /// The instant `millis` shown with the same offset as `self`.
    pub fn with_same_offset(&self, millis: i64) -> Self {
        Self::rendered(millis, self.offset_secs)
    }

    /// Parses RFC 3339 text, keeping it for rendering.
    pub fn parse(text: &str) -> Result<Self, String> {
        let dt = DateTime::parse_from_rfc3339(text)
            .map_err(|e| format!("`{text}` is not an RFC 3339 timestamp like 2018-09-02T03:00:00.178+02:00 ({e})"))?;
        Ok(Self {
            millis: dt.timestamp_millis(),
            offset_secs: dt.offset().local_minus_utc(),
            text: Arc::from(text),
        })
    }

    /// Milliseconds since the Unix epoch.
    pub fn millis(&self) -> i64 {
        self.millis
    }

    /// The instant in UTC.
    pub fn utc(&self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.millis)
            .single()
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }
}

/// Renders `millis` the way the API does, in UTC.
pub fn format_millis(millis: i64) -> String {
    Timestamp::from_millis(millis).to_string()
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl PartialEq for Timestamp {
    fn eq(&self, other: &Self) -> bool {
        self.millis == other.millis
    }
}

impl Eq for Timestamp {}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Timestamp::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixture_text_comes_back_byte_for_byte() {
        let t = Timestamp::parse("2018-10-07T03:05:00.154+01:00").unwrap();
        assert_eq!(t.to_string(), "2018-10-07T03:05:00.154+01:00");
        assert_eq!(serde_json::to_string(&t).unwrap(), "\"2018-10-07T03:05:00.154+01:00\"");
    }

    #[test]
    fn derived_instants_keep_the_offset_and_show_milliseconds() {
        let t = Timestamp::parse("2018-09-02T03:00:00.178+02:00").unwrap();
        let later = t.with_same_offset(t.millis() + 60_000);
        assert_eq!(later.to_string(), "2018-09-02T03:01:00.178+02:00");
        assert_eq!(format_millis(0), "1970-01-01T00:00:00.000+00:00");
    }

    #[test]
    fn garbage_is_refused_with_an_example() {
        let err = Timestamp::parse("yesterday").unwrap_err();
        assert!(err.contains("RFC 3339"), "{err}");
    }
}
