//! Timestamps as the API writes them: RFC 3339 with milliseconds and a
//! numeric offset (`2018-09-02T03:00:00.178+02:00`).
//!
//! Only the RFC 3339 forms Go's `time.Time` decodes are accepted:
//! `YYYY-MM-DDTHH:MM:SS[.fraction]` then `Z` or `±HH:MM`, with an uppercase
//! `T` and `Z` and seconds 00 to 59. A form RFC 3339 allows but Go refuses
//! (`t`, `z`, a space for `T`, a leap second) would be echoed back byte for
//! byte and make every Go client fail to decode the whole response.
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
    ///
    /// ```
    /// use scalingo_db_fake::Timestamp;
    /// let t = Timestamp::from_millis(1_500);
    /// assert_eq!(t.to_string(), "1970-01-01T00:00:01.500+00:00");
    /// assert_eq!(t.millis(), 1_500);
    /// ```
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
    ///
    /// ```
    /// use scalingo_db_fake::Timestamp;
    /// let t = Timestamp::parse("2018-09-02T03:00:00.178+02:00").unwrap();
    /// let later = t.with_same_offset(t.millis() + 1_000);
    /// assert_eq!(later.to_string(), "2018-09-02T03:00:01.178+02:00");
    /// ```
    pub fn with_same_offset(&self, millis: i64) -> Self {
        Self::rendered(millis, self.offset_secs)
    }

    /// Parses RFC 3339 text in a form Go's `time.Time` accepts (see the
    /// module's doc), keeping it for rendering.
    ///
    /// ```
    /// use scalingo_db_fake::Timestamp;
    /// let t = Timestamp::parse("2018-09-02T03:00:00.178+02:00").unwrap();
    /// assert_eq!(t.millis(), 1_535_850_000_178);
    /// assert_eq!(t.to_string(), "2018-09-02T03:00:00.178+02:00");
    /// assert!(Timestamp::parse("2018-09-02 03:00:00Z").is_err()); // Go refuses a space
    /// ```
    pub fn parse(text: &str) -> Result<Self, String> {
        go_shape(text.as_bytes()).map_err(|why| {
            format!("`{text}` is not an RFC 3339 timestamp Go clients accept: {why} (write it like {EXAMPLE})")
        })?;
        let dt = DateTime::parse_from_rfc3339(text)
            .map_err(|e| format!("`{text}` is not an RFC 3339 timestamp like {EXAMPLE} ({e})"))?;
        Ok(Self {
            millis: dt.timestamp_millis(),
            offset_secs: dt.offset().local_minus_utc(),
            text: Arc::from(text),
        })
    }

    /// Milliseconds since the Unix epoch.
    ///
    /// ```
    /// let t = scalingo_db_fake::Timestamp::parse("1970-01-01T01:00:01.500+01:00").unwrap();
    /// assert_eq!(t.millis(), 1_500);
    /// ```
    pub fn millis(&self) -> i64 {
        self.millis
    }

    /// The instant in UTC.
    ///
    /// ```
    /// let t = scalingo_db_fake::Timestamp::parse("2018-09-02T03:00:00.178+02:00").unwrap();
    /// assert_eq!(t.utc().to_string(), "2018-09-02 01:00:00.178 UTC");
    /// assert_eq!(t.utc().timestamp_millis(), t.millis());
    /// ```
    pub fn utc(&self) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(self.millis)
            .single()
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }
}

/// A timestamp every client accepts, for messages.
const EXAMPLE: &str = "2018-09-02T03:00:00.178+02:00";

/// Checks the layout Go's RFC 3339 parser takes,
/// `YYYY-MM-DDTHH:MM:SS[.fraction]` then `Z` or `±HH:MM`; says what is wrong
/// otherwise. The calendar (month lengths, …) is left to chrono.
fn go_shape(b: &[u8]) -> Result<(), String> {
    let digits = |from: usize, to: usize| b.get(from..to).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let number = |from: usize, to: usize| {
        b.get(from..to)
            .map_or(0, |d| d.iter().fold(0u32, |n, c| n * 10 + u32::from(c - b'0')))
    };
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    if !(digits(0, 4) && at(4, b'-') && digits(5, 7) && at(7, b'-') && digits(8, 10)) {
        return Err("the date must be YYYY-MM-DD, with a four-digit year".into());
    }
    match b.get(10) {
        Some(b'T') => {}
        Some(b't') => return Err("the `T` between the date and the time must be uppercase".into()),
        Some(b' ') => return Err("the date and the time must be joined by `T`, not a space".into()),
        _ => return Err("the date must be followed by `T` and the time".into()),
    }
    if !(digits(11, 13) && at(13, b':') && digits(14, 16) && at(16, b':') && digits(17, 19)) {
        return Err("the time must be HH:MM:SS, two digits each".into());
    }
    if number(11, 13) > 23 || number(14, 16) > 59 {
        return Err("hours go from 00 to 23 and minutes from 00 to 59".into());
    }
    if number(17, 19) > 59 {
        return Err("seconds go from 00 to 59 (Go refuses a leap second 60)".into());
    }
    let mut rest = &b[19..];
    if let Some(after) = rest.strip_prefix(b".") {
        let n = after.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return Err("the `.` after the seconds must be followed by digits".into());
        }
        rest = &after[n..];
    }
    go_offset(rest)
}

/// The end of a timestamp: `Z` or `±HH:MM` (hours to 23, minutes to 59).
fn go_offset(z: &[u8]) -> Result<(), String> {
    match z {
        [b'Z'] => Ok(()),
        [b'z'] => Err("the UTC designator must be an uppercase `Z`".into()),
        [b'+' | b'-', h1, h2, b':', m1, m2] if [h1, h2, m1, m2].iter().all(|c| c.is_ascii_digit()) => {
            let hours = (h1 - b'0') * 10 + (h2 - b'0');
            let minutes = (m1 - b'0') * 10 + (m2 - b'0');
            if hours > 23 || minutes > 59 {
                return Err("an offset's hours go from 00 to 23 and its minutes from 00 to 59".into());
            }
            Ok(())
        }
        _ => Err("the time must end with `Z` or an offset ±HH:MM".into()),
    }
}

/// Anything that names an instant: a [`Timestamp`], a [`std::time::SystemTime`],
/// a `chrono::DateTime<Utc>` or an RFC 3339 string.
///
/// ```
/// use scalingo_db_fake::{IntoTimestamp, Timestamp};
/// let a = "2024-01-01T00:00:00Z".into_timestamp().unwrap();
/// let b = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_704_067_200);
/// assert_eq!(a.millis(), b.into_timestamp().unwrap().millis());
/// assert!("yesterday".into_timestamp().is_err());
/// ```
pub trait IntoTimestamp {
    /// The instant, or why the text is not one (field `set`).
    fn into_timestamp(self) -> Result<Timestamp, crate::Error>;
}

impl IntoTimestamp for Timestamp {
    fn into_timestamp(self) -> Result<Timestamp, crate::Error> {
        Ok(self)
    }
}

impl IntoTimestamp for &Timestamp {
    fn into_timestamp(self) -> Result<Timestamp, crate::Error> {
        Ok(self.clone())
    }
}

impl IntoTimestamp for &str {
    fn into_timestamp(self) -> Result<Timestamp, crate::Error> {
        Timestamp::parse(self).map_err(|m| crate::Error::invalid("set", m))
    }
}

impl IntoTimestamp for std::time::SystemTime {
    fn into_timestamp(self) -> Result<Timestamp, crate::Error> {
        let millis = match self.duration_since(std::time::UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
        };
        Ok(Timestamp::from_millis(millis))
    }
}

impl IntoTimestamp for DateTime<Utc> {
    fn into_timestamp(self) -> Result<Timestamp, crate::Error> {
        Ok(Timestamp::from_millis(self.timestamp_millis()))
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
    fn forms_go_refuses_are_refused_with_the_reason() {
        for (text, why) in [
            ("2018-09-02T03:00:00.398z", "uppercase `Z`"),
            ("2018-09-02t03:00:00.398Z", "uppercase"),
            ("2018-09-02 03:00:00.398Z", "not a space"),
            ("2018-09-02T03:00:60Z", "leap second"),
            ("2018-09-02T03:00:00.Z", "followed by digits"),
            ("18-09-02T03:00:00Z", "four-digit year"),
            ("2018-09-02T3:00:00Z", "HH:MM:SS"),
            ("2018-09-02T03:00:00+24:00", "offset"),
            ("2018-09-02T03:00:00+05:60", "offset"),
            ("2018-09-02T03:00:00+0200", "±HH:MM"),
            ("2018-09-02T03:00:00", "±HH:MM"),
            ("2018-09-02T03:00:00Z ", "±HH:MM"),
            ("2018-09-02T03:00:00,5Z", "±HH:MM"),
            ("2018-09-02T24:00:00Z", "hours"),
            ("2018-02-30T03:00:00Z", "RFC 3339"),
        ] {
            let err = Timestamp::parse(text).unwrap_err();
            assert!(err.contains(why) && err.contains("RFC 3339"), "{text}: {err}");
        }
    }

    #[test]
    fn every_form_go_accepts_still_parses() {
        for text in [
            "2018-09-02T03:00:00Z",
            "2018-09-02T03:00:00.1Z",
            "2018-09-02T03:00:00.123456789123+02:00",
            "2018-09-02T03:00:00-00:00",
            "2018-09-02T03:00:00.178+23:59",
            "2018-09-02T03:00:00-05:30",
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999Z",
            "2024-02-29T12:00:00+00:00",
        ] {
            let t = Timestamp::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(t.to_string(), text);
        }
    }

    #[test]
    fn garbage_is_refused_with_an_example() {
        let err = Timestamp::parse("yesterday").unwrap_err();
        assert!(err.contains("RFC 3339"), "{err}");
    }
}
