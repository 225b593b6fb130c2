//! How one log event becomes one line, cheaply: the binary logs a line per
//! request, so this runs on the request path.
//!
//! - `text`: `2024-01-01T00:00:00.000000Z  INFO message key=value`
//! - `json`: `{"timestamp":"…","level":"INFO","message":"…","key":"value"}`
//!
//! The line of a request (its plain values, handed over by the library's
//! request sink rather than as a `tracing` event) is put together here:
//! `GET /path -> 200 (operation, 12 µs)`, and in JSON that text as the
//! `message` next to each field.
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

use scalingo_db_fake::__internals::RequestLine;

use super::logging::LogFormat;

/// Appends `event`, logged `at` (since the Unix epoch), to `line` as one
/// line of `format`, its newline included.
pub fn write_line(format: LogFormat, event: &Event<'_>, at: Duration, line: &mut String) -> fmt::Result {
    let level = event.metadata().level();
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

/// Appends a request's line in the text format, logged `at` (since the Unix
/// epoch), to `out`, its newline included: written as bytes straight into
/// the thread's log buffer (see `logging`), no `String` in between.
pub fn push_request_line(out: &mut Vec<u8>, request: &RequestLine<'_>, at: Duration) {
    out.extend_from_slice(&timestamp(at));
    out.extend_from_slice(text_level(&request.level).as_bytes());
    push_request_text(out, request);
    out.push(b'\n');
}

/// Appends a request's line in the JSON format, logged `at`, to `line`:
/// its text (as [`push_request_line`] writes it) as the `message`, then
/// each field.
pub fn write_request_json(request: &RequestLine<'_>, at: Duration, line: &mut String) -> fmt::Result {
    REQUEST_TEXT.with(|cell| {
        // Taken out of the cell: nothing below logs, but a borrow is never
        // held across a call that could.
        let mut text = std::mem::take(&mut *cell.borrow_mut());
        text.clear();
        push_request_text(&mut text, request);
        line.push_str("{\"timestamp\":\"");
        // Only valid UTF-8 was written (the fields are `str`s, the escapes
        // ASCII).
        let written = write_timestamp(line, at)
            .and_then(|()| write!(line, "\",\"level\":\"{}\",\"message\":", request.level.as_str()))
            .and_then(|()| write_json_str(line, std::str::from_utf8(&text).map_err(|_| fmt::Error)?));
        *cell.borrow_mut() = text;
        written
    })?;
    line.push_str(",\"method\":");
    write_json_str(line, request.method)?;
    line.push_str(",\"path\":");
    write_json_str(line, request.path)?;
    line.push_str(",\"status\":");
    push_decimal(line, u64::from(request.status));
    line.push_str(",\"operation\":");
    write_json_str(line, request.operation)?;
    if let Some(fault) = request.fault {
        line.push_str(",\"fault\":");
        write_json_str(line, fault)?;
    }
    line.push_str(",\"latency_us\":");
    push_decimal(line, request.latency_us);
    line.push_str("}\n");
    Ok(())
}

/// The most bytes [`push_request_line`] writes for `request`: a buffer with
/// this much room left takes the line whole.
pub fn request_line_max_len(request: &RequestLine<'_>) -> usize {
    // Timestamp, level, the fixed words and separators, two numbers of at
    // most 20 digits, and each control character of a fault id as `\xNN`.
    27 + 7
        + 64
        + request.method.len()
        + request.path.len()
        + request.operation.len()
        + request.fault.map_or(0, |f| 4 * f.len())
}

/// A request's fields as one text: `GET /path -> 200 (operation, 12 µs)`,
/// with `, fault f1` before the latency when a rule fired.
fn push_request_text(out: &mut Vec<u8>, request: &RequestLine<'_>) {
    let mut buf = [0u8; 20];
    out.extend_from_slice(request.method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(request.path.as_bytes());
    out.extend_from_slice(b" -> ");
    out.extend_from_slice(digits(u64::from(request.status), &mut buf));
    out.extend_from_slice(b" (");
    out.extend_from_slice(request.operation.as_bytes());
    if let Some(fault) = request.fault {
        // A fault rule's id (the fake gives them, `f1`…): escaped here all
        // the same, so that a request's line never needs the whole-line
        // scan (hyper lets no control character into a method or a path,
        // and the other fields are the fake's own).
        out.extend_from_slice(b", fault ");
        push_escaped(out, fault.as_bytes());
    }
    out.extend_from_slice(b", ");
    out.extend_from_slice(digits(request.latency_us, &mut buf));
    out.extend_from_slice(" µs)".as_bytes());
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

/// Appends `value` in decimal, digit by digit (no UTF-8 check of a buffer;
/// this writes the numbers of every JSON request line).
fn push_decimal(out: &mut String, value: u64) {
    let mut buf = [0u8; 20];
    for d in digits(value, &mut buf) {
        out.push(char::from(*d));
    }
}

/// Appends `value` with its control characters written as `\xNN`, as
/// [`escape_controls`] writes them in a whole line.
fn push_escaped(out: &mut Vec<u8>, value: &[u8]) {
    for &b in value {
        if is_control(b) {
            out.extend_from_slice(format!("\\x{b:02x}").as_bytes());
        } else {
            out.push(b);
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
    /// The second last formatted on this thread, and its date and time of
    /// day (`2024-01-01T00:00:00`).
    static SECOND: RefCell<(u64, [u8; 19])> = const { RefCell::new((u64::MAX, *b"1970-01-01T00:00:00")) };
    /// A JSON request line's text before it is escaped as its message.
    static REQUEST_TEXT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    /// Scratch space for a JSON field's value before it is escaped.
    static SCRATCH: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Now, since the Unix epoch.
pub fn since_epoch() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// `now` (since the Unix epoch), in UTC, as `2024-01-01T00:00:00.000000Z`.
fn write_timestamp(w: &mut impl fmt::Write, now: Duration) -> fmt::Result {
    // Only ASCII was written.
    w.write_str(std::str::from_utf8(&timestamp(now)).map_err(|_| fmt::Error)?)
}

/// `now` (since the Unix epoch), in UTC, as the ASCII bytes of
/// `2024-01-01T00:00:00.000000Z`: the date and time of day formatted once
/// a second per thread, the microseconds every time.
fn timestamp(now: Duration) -> [u8; 27] {
    let mut out = *b"1970-01-01T00:00:00.000000Z";
    let secs = now.as_secs();
    SECOND.with(|cell| {
        let mut cached = cell.borrow_mut();
        if cached.0 != secs {
            let t = i64::try_from(secs)
                .ok()
                .and_then(|s| chrono::DateTime::from_timestamp(s, 0))
                .unwrap_or_default();
            let text = t.format("%Y-%m-%dT%H:%M:%S").to_string();
            // A year past 9999 would not fit: such a second shows as 1970.
            cached.1 = <[u8; 19]>::try_from(text.as_bytes()).unwrap_or(*b"1970-01-01T00:00:00");
            cached.0 = secs;
        }
        out[..19].copy_from_slice(&cached.1);
    });
    let mut micros = now.subsec_micros();
    for at in (20..26).rev() {
        out[at] = b'0' + (micros % 10) as u8;
        micros /= 10;
    }
    out
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
        for n in [0, 7, 10, 99, 100, 200, 999, 1000, 65_535, u64::MAX] {
            let mut pushed = String::from("x");
            push_decimal(&mut pushed, n);
            assert_eq!(pushed, format!("x{n}"));
        }
    }

    #[test]
    fn a_value_s_control_characters_are_escaped_and_the_rest_kept() {
        let mut out = Vec::new();
        push_escaped(&mut out, "rule\n\u{1b}[31mé\u{7f}".as_bytes());
        assert_eq!(String::from_utf8(out).unwrap(), "rule\\x0a\\x1b[31mé\\x7f");
    }

    #[test]
    fn a_request_line_never_outgrows_its_bound() {
        let request = |fault: Option<&'static str>, latency_us: u64| RequestLine {
            level: Level::INFO,
            method: "GET",
            path: "/api/databases/my-db-123/backups",
            status: 200,
            operation: "backups.list",
            fault,
            latency_us,
            at: Duration::new(1_700_000_000, 0),
        };
        for r in [
            request(None, 38),
            request(Some("f1"), u64::MAX),
            request(Some("\u{1b}\u{1b}\n\u{7f}"), u64::MAX),
        ] {
            let mut line = Vec::new();
            push_request_line(&mut line, &r, r.at);
            assert!(
                line.len() <= request_line_max_len(&r),
                "{}",
                String::from_utf8_lossy(&line)
            );
        }
        let mut line = Vec::new();
        let r = request(Some("f1"), 38);
        push_request_line(&mut line, &r, r.at);
        assert_eq!(
            String::from_utf8(line).unwrap(),
            "2023-11-14T22:13:20.000000Z  INFO GET /api/databases/my-db-123/backups -> 200 (backups.list, fault f1, 38 µs)\n"
        );
    }

    #[test]
    fn timestamps_are_rfc3339_in_utc_with_microseconds() {
        let mut out = String::new();
        write_timestamp(&mut out, since_epoch()).unwrap();
        assert_eq!(out.len(), "2024-01-01T00:00:00.000000Z".len(), "{out}");
        assert!(chrono::DateTime::parse_from_rfc3339(&out).is_ok(), "{out}");
        let mut fixed = String::new();
        write_timestamp(&mut fixed, Duration::new(1_700_000_000, 123_456_789)).unwrap();
        assert_eq!(fixed, "2023-11-14T22:13:20.123456Z");
        fixed.clear();
        write_timestamp(&mut fixed, Duration::new(1_700_000_001, 7_000)).unwrap();
        assert_eq!(fixed, "2023-11-14T22:13:21.000007Z");
    }
}
