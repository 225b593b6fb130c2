//! How one log event becomes one line, cheaply: the binary logs a line per
//! request, so this runs on the request path.
//!
//! - `text`: `2024-01-01T00:00:00.000000Z  INFO message key=value`
//! - `json`: `{"timestamp":"…","level":"INFO","message":"…","key":"value"}`
//!
//! The line of a request (an event of [`REQUEST_LOG_TARGET`], plain fields
//! and no message) is put together here: `GET /path -> 200 (operation,
//! 12 µs)`, and in JSON that text as the `message` next to each field.
//! The date and time of day are formatted once a second per thread; the
//! message is written as it comes (no per-character escaping). Control
//! characters, which could forge a line or drive a terminal, are escaped
//! afterwards in the rare line that has any ([`escape_controls`]). A
//! request's line skips that scan: hyper lets no control character into a
//! method or a path, its other fields are the fake's own, and the fault
//! rule's id is escaped as it is written.

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level};

use scalingo_db_fake::REQUEST_LOG_TARGET;

use super::logging::LogFormat;

/// Appends `event`, logged `at` (since the Unix epoch), to `line` as one
/// line of `format`, its newline included.
pub fn write_line(format: LogFormat, event: &Event<'_>, at: Duration, line: &mut String) -> fmt::Result {
    let level = event.metadata().level();
    if event.metadata().target() == REQUEST_LOG_TARGET {
        return write_request(format, level, event, at, line);
    }
    match format {
        LogFormat::Text => {
            write_timestamp(line, at)?;
            line.push_str(text_level(level));
            let mut fields = TextFields {
                w: &mut *line,
                result: Ok(()),
            };
            event.record(&mut fields);
            fields.result?;
        }
        LogFormat::Json => {
            line.push_str("{\"timestamp\":\"");
            write_timestamp(line, at)?;
            line.push_str("\",\"level\":\"");
            line.push_str(level.as_str());
            line.push('"');
            let mut fields = JsonFields {
                w: &mut *line,
                result: Ok(()),
            };
            event.record(&mut fields);
            fields.result?;
            line.push('}');
        }
    }
    line.push('\n');
    Ok(())
}

/// A request's line: its fields put together as one text, in the text
/// format (written straight into the line); that text as the `message`,
/// then each field, in JSON.
fn write_request(format: LogFormat, level: &Level, event: &Event<'_>, at: Duration, line: &mut String) -> fmt::Result {
    if format == LogFormat::Text {
        write_timestamp(line, at)?;
        line.push_str(text_level(level));
        event.record(&mut RequestFields { text: line, json: None });
        line.push('\n');
        return Ok(());
    }
    SCRATCH.with(|cell| {
        // Taken out of the cell: nothing below logs, but a borrow must not
        // be held across the subscriber either way.
        let mut text = std::mem::take(&mut *cell.borrow_mut());
        text.clear();
        let mut fields = RequestFields {
            text: &mut text,
            json: Some(String::new()),
        };
        event.record(&mut fields);
        let extra = fields.json.take().unwrap_or_default();
        line.push_str("{\"timestamp\":\"");
        let written = write_timestamp(line, at)
            .and_then(|()| write!(line, "\",\"level\":\"{}\",\"message\":", level.as_str()))
            .and_then(|()| write_json_str(line, &text));
        *cell.borrow_mut() = text;
        written?;
        line.push_str(&extra);
        line.push_str("}\n");
        Ok(())
    })
}

/// The fields of a request's event, in the order the fake logs them, each
/// written into the line's text with its separator (and, for JSON, as a
/// `,"name":value` of its own).
struct RequestFields<'a> {
    text: &'a mut String,
    json: Option<String>,
}

impl Visit for RequestFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        let name = field.name();
        let lead = if named(name, "method") {
            ""
        } else if named(name, "operation") {
            " ("
        } else if named(name, "fault") {
            // A fault rule's id (the fake gives them, `f1`…): escaped here
            // all the same, so that a request's line never needs the
            // whole-line scan (hyper lets no control character into a
            // method or a path, and the other fields are the fake's own).
            self.text.push_str(", fault ");
            push_escaped(self.text, value);
            if let Some(json) = &mut self.json {
                let _ = write!(json, ",\"{}\":", field.name()).and_then(|()| write_json_str(json, value));
            }
            return;
        } else {
            " "
        };
        self.text.push_str(lead);
        self.text.push_str(value);
        if let Some(json) = &mut self.json {
            let _ = write!(json, ",\"{}\":", field.name()).and_then(|()| write_json_str(json, value));
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        let mut digits = [0u8; 20];
        let name = field.name();
        if named(name, "status") {
            self.text.push_str(" -> ");
            push_decimal(self.text, value);
        } else if named(name, "latency_us") {
            self.text.push_str(", ");
            push_decimal(self.text, value);
            self.text.push_str(" µs)");
        } else {
            let number = decimal(value, &mut digits);
            let _ = write!(self.text, " {name}={number}");
        }
        if let Some(json) = &mut self.json {
            let _ = write!(json, ",\"{}\":", field.name());
            push_decimal(json, value);
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let _ = write!(self.text, " {}={value:?}", field.name());
    }
}

/// Whether a field of a request's event is `expected`: its fields are the
/// fake's own, distinct in length and first letter, so this is enough (and
/// cheaper than comparing the names, on every request line).
fn named(name: &str, expected: &'static str) -> bool {
    name.len() == expected.len() && name.as_bytes().first() == expected.as_bytes().first()
}

/// The ASCII digits of `value` in decimal, written at the end of `buf`.
fn digits(mut value: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            break;
        }
    }
    &buf[at..]
}

/// `value` in decimal, written at the end of `buf`.
fn decimal(value: u64, buf: &mut [u8; 20]) -> &str {
    // Only ASCII digits were written.
    std::str::from_utf8(digits(value, buf)).unwrap_or("0")
}

/// Appends `value` in decimal: digit by digit (no UTF-8 check of a buffer,
/// as `decimal` needs; this runs twice on every request's line).
fn push_decimal(out: &mut String, value: u64) {
    let mut buf = [0u8; 20];
    for d in digits(value, &mut buf) {
        out.push(char::from(*d));
    }
}

/// Appends `value` with its control characters written as `\xNN`, as
/// [`escape_controls`] writes them in a whole line.
fn push_escaped(out: &mut String, value: &str) {
    for c in value.chars() {
        if u8::try_from(c).is_ok_and(is_control) {
            let _ = write!(out, "\\x{:02x}", u32::from(c));
        } else {
            out.push(c);
        }
    }
}

/// Whether `b` is a control character a line must not carry as it is.
fn is_control(b: u8) -> bool {
    b < 0x20 || b == 0x7f
}

/// The level as the text format shows it, padded to one width.
fn text_level(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => " TRACE ",
        Level::DEBUG => " DEBUG ",
        Level::INFO => "  INFO ",
        Level::WARN => "  WARN ",
        Level::ERROR => " ERROR ",
    }
}

thread_local! {
    /// The second last formatted on this thread, and its text.
    static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    /// Scratch space for a JSON field's value before it is escaped.
    static SCRATCH: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Now, since the Unix epoch.
pub fn since_epoch() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// `now` (since the Unix epoch), in UTC, as `2024-01-01T00:00:00.000000Z`.
fn write_timestamp(w: &mut impl fmt::Write, now: Duration) -> fmt::Result {
    let secs = now.as_secs();
    SECOND.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.0 != secs {
            let t = i64::try_from(secs)
                .ok()
                .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
                .unwrap_or_default();
            cached.1.clear();
            write!(cached.1, "{}", t.format("%Y-%m-%dT%H:%M:%S"))?;
            cached.0 = secs;
        }
        w.write_str(&cached.1)
    })?;
    w.write_char('.')?;
    let micros = now.subsec_micros();
    for unit in [100_000, 10_000, 1_000, 100, 10, 1] {
        w.write_char(char::from(b'0' + (micros / unit % 10) as u8))?;
    }
    w.write_char('Z')
}

/// The fields of an event in the text format: the message as it is, the
/// others as ` name=value`.
struct TextFields<'a, W> {
    w: &'a mut W,
    result: fmt::Result,
}

impl<W: fmt::Write> TextFields<'_, W> {
    fn put(&mut self, field: &Field, value: impl FnOnce(&mut W) -> fmt::Result) {
        if self.result.is_err() {
            return;
        }
        if field.name() != "message" {
            self.result = write!(self.w, " {}=", field.name());
        }
        self.result = self.result.and_then(|()| value(self.w));
    }
}

impl<W: fmt::Write> Visit for TextFields<'_, W> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, |w| w.write_str(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, |w| write!(w, "{value:?}"));
    }
}

/// The fields of an event in the JSON format: `,"name":"value"` each, the
/// value escaped.
struct JsonFields<'a, W> {
    w: &'a mut W,
    result: fmt::Result,
}

impl<W: fmt::Write> JsonFields<'_, W> {
    fn put(&mut self, field: &Field, value: &str) {
        if self.result.is_ok() {
            self.result = write!(self.w, ",\"{}\":", field.name()).and_then(|()| write_json_str(self.w, value));
        }
    }
}

impl<W: fmt::Write> Visit for JsonFields<'_, W> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        SCRATCH.with(|cell| {
            // Taken out of the cell so that a value whose formatting logs
            // cannot borrow it twice.
            let mut text = std::mem::take(&mut *cell.borrow_mut());
            text.clear();
            if write!(text, "{value:?}").is_err() {
                self.result = Err(fmt::Error);
            }
            self.put(field, &text);
            *cell.borrow_mut() = text;
        });
    }
}

/// `s` as a JSON string: quoted, with `"`, `\` and control characters escaped.
fn write_json_str(w: &mut impl fmt::Write, s: &str) -> fmt::Result {
    w.write_char('"')?;
    let mut from = 0;
    for (i, b) in s.bytes().enumerate() {
        let escaped = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f | 0x7f => "",
            _ => continue,
        };
        w.write_str(&s[from..i])?;
        if escaped.is_empty() {
            write!(w, "\\u{b:04x}")?;
        } else {
            w.write_str(escaped)?;
        }
        from = i + 1;
    }
    w.write_str(&s[from..])?;
    w.write_char('"')
}

/// `line` (which ends with its newline) with the control characters before
/// that newline written as `\xNN`, so that no text a client or a file
/// controls can start a forged line or send a terminal escape; `None` when
/// there are none (almost always).
pub fn escape_controls(line: &[u8]) -> Option<Vec<u8>> {
    let body = line.strip_suffix(b"\n").unwrap_or(line);
    // A fold, not `any`: no early exit, so the scan is vectorised.
    if !body.iter().fold(false, |found, b| found | is_control(*b)) {
        return None;
    }
    let mut out = Vec::with_capacity(line.len() + 16);
    for b in body {
        if is_control(*b) {
            out.extend_from_slice(format!("\\x{b:02x}").as_bytes());
        } else {
            out.push(*b);
        }
    }
    out.push(b'\n');
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped() {
        let mut out = String::new();
        write_json_str(&mut out, "a\"b\\c\nd\u{1b}e µ").unwrap();
        assert_eq!(out, r#""a\"b\\c\nd\u001be µ""#);
        let back: String = serde_json::from_str(&out).unwrap();
        assert_eq!(back, "a\"b\\c\nd\u{1b}e µ");
    }

    #[test]
    fn control_characters_are_escaped_in_text_lines() {
        assert_eq!(escape_controls(b"plain line\n"), None);
        assert_eq!(
            escape_controls(b"forged\nline \x1b[31m\n").unwrap(),
            b"forged\\x0aline \\x1b[31m\n".to_vec()
        );
    }

    #[test]
    fn numbers_are_written_in_decimal() {
        for n in [0, 7, 10, 200, 65_535, u64::MAX] {
            let mut buf = [0u8; 20];
            assert_eq!(decimal(n, &mut buf), n.to_string());
            let mut pushed = String::from("x");
            push_decimal(&mut pushed, n);
            assert_eq!(pushed, format!("x{n}"));
        }
    }

    #[test]
    fn a_value_s_control_characters_are_escaped_and_the_rest_kept() {
        let mut out = String::new();
        push_escaped(&mut out, "rule\n\u{1b}[31mé\u{7f}");
        assert_eq!(out, "rule\\x0a\\x1b[31mé\\x7f");
    }

    #[test]
    fn timestamps_are_rfc3339_in_utc_with_microseconds() {
        let mut out = String::new();
        write_timestamp(&mut out, since_epoch()).unwrap();
        assert_eq!(out.len(), "2024-01-01T00:00:00.000000Z".len(), "{out}");
        assert!(chrono::DateTime::parse_from_rfc3339(&out).is_ok(), "{out}");
    }
}
