//! What a request must be before any route sees it, as RFC 9110 and 9112
//! say, and the one normalization every route gets.
//!
//! - HTTP/1.1 without `Host` is 400 (RFC 9112 §3.2), and so are two `Host`
//!   or two `Authorization` headers (which one would count?).
//! - A `Transfer-Encoding` other than `chunked` alone is 501: the fake does
//!   not decode `gzip, chunked` and must not read its framing as the body.
//! - Percent-encoded unreserved characters (`%2D` for `-`, `%41` for `A`…)
//!   are the same as the characters themselves (RFC 3986 §2.3): paths are
//!   decoded of them before routing, so `/api/databases/my%2Ddb` is
//!   `/api/databases/my-db`. Other escapes (`%2F`) stay as they are.
//! - The base of links (download URLs, regions): the public URL when set,
//!   else the authority the client used — the absolute-form request target's,
//!   then `X-Forwarded-Host`, then `Host` — only when it is a valid authority
//!   (host and port, no user info), with `X-Forwarded-Proto` `http` or
//!   `https`; anything else is 400 rather than a link built from it.

use std::borrow::Cow;

use hyper::header::{AUTHORIZATION, HOST, TRANSFER_ENCODING};
use hyper::http::request::Parts;
use hyper::{StatusCode, Version};

use super::response::{self, Reply};

fn bad_request(message: &str) -> Reply {
    response::error(StatusCode::BAD_REQUEST, message, Some("bad_request"))
}

/// The request line and headers are acceptable, or the 400 / 501 to send.
pub(crate) fn check(parts: &Parts) -> Result<(), Reply> {
    // One pass over the headers (a request has a handful), rather than a
    // hashed lookup for each name checked.
    let (mut hosts, mut authorizations) = (0_usize, 0_usize);
    let (mut codings, mut first_is_chunked) = (0_usize, false);
    for (name, value) in &parts.headers {
        if name == HOST {
            hosts += 1;
        } else if name == AUTHORIZATION {
            authorizations += 1;
        } else if name == TRANSFER_ENCODING {
            let listed = value.to_str().unwrap_or("?").split(',').map(str::trim);
            for coding in listed.filter(|c| !c.is_empty()) {
                if codings == 0 {
                    first_is_chunked = coding.eq_ignore_ascii_case("chunked");
                }
                codings += 1;
            }
        }
    }
    if parts.version == Version::HTTP_11 && hosts == 0 {
        return Err(bad_request("an HTTP/1.1 request needs a Host header"));
    }
    if hosts > 1 {
        return Err(bad_request("more than one Host header"));
    }
    if authorizations > 1 {
        return Err(bad_request("more than one Authorization header"));
    }
    if codings > 0 && (!first_is_chunked || codings > 1) {
        return Err(response::error(
            StatusCode::NOT_IMPLEMENTED,
            "only `Transfer-Encoding: chunked` is understood",
            Some("not_implemented"),
        ));
    }
    Ok(())
}

/// `path` with its percent-encoded unreserved characters decoded (borrowed
/// when it has none).
pub(crate) fn normalize_path(path: &str) -> Cow<'_, str> {
    // A fold, not `contains`: no early exit, so the scan of a short path
    // is vectorised (this runs on every request).
    if !path.bytes().fold(false, |found, b| found | (b == b'%')) {
        return Cow::Borrowed(path);
    }
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            if let Some(c) = hex.filter(|c| c.is_ascii_alphanumeric() || b"-._~".contains(c)) {
                out.push(c);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    // Only ASCII replaced ASCII escapes: still UTF-8.
    Cow::Owned(String::from_utf8(out).unwrap_or_else(|_| path.to_string()))
}

/// Whether `authority` is a host (name, IPv4 or bracketed IPv6) and an
/// optional port, and nothing else.
pub(crate) fn is_authority(authority: &str) -> bool {
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, _)) if !h.ends_with(']') && h.contains(':') => (authority, None),
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    };
    let port_ok = port.map_or(true, |p| {
        !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit())
    });
    let host_ok = if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        !v6.is_empty() && v6.bytes().all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
    } else {
        !host.is_empty()
            && host.len() <= 253
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_')
    };
    port_ok && host_ok
}

/// `scheme://authority` as the client sees this server, or the 400 to send
/// when what it says is not a valid scheme and authority.
pub(crate) fn client_base(parts: &Parts) -> Result<String, Reply> {
    let header = |name: &str| -> Result<Option<&str>, Reply> {
        let Some(v) = parts.headers.get(name) else {
            return Ok(None);
        };
        let v = v.to_str().map_err(|_| bad_request(&format!("{name} is not text")))?;
        Ok(v.split(',').next().map(str::trim).filter(|v| !v.is_empty()))
    };
    let proto = match header("x-forwarded-proto")? {
        None => "http".to_string(),
        Some(p) if p.eq_ignore_ascii_case("http") || p.eq_ignore_ascii_case("https") => p.to_ascii_lowercase(),
        Some(p) => {
            return Err(bad_request(&format!(
                "X-Forwarded-Proto must be http or https, not {p:?}"
            )))
        }
    };
    let (name, authority) = if let Some(a) = parts.uri.authority() {
        ("the request target's authority", Some(a.as_str()))
    } else if let Some(h) = header("x-forwarded-host")? {
        ("X-Forwarded-Host", Some(h))
    } else {
        ("Host", header(HOST.as_str())?)
    };
    let authority = authority.unwrap_or("localhost");
    if !is_authority(authority) {
        return Err(bad_request(&format!(
            "{name} {authority:?} is not a host and port: no link can be built from it"
        )));
    }
    Ok(format!("{proto}://{authority}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreserved_escapes_are_decoded_and_others_kept() {
        assert_eq!(normalize_path("/api/databases/my%2Ddb%2e1"), "/api/databases/my-db.1");
        assert_eq!(normalize_path("/a%2Fb"), "/a%2Fb");
        assert_eq!(normalize_path("/a%4"), "/a%4");
        assert_eq!(normalize_path("/a%zz%41"), "/a%zzA");
        assert!(matches!(normalize_path("/plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn authorities_are_a_host_and_a_port_and_nothing_else() {
        for ok in [
            "localhost",
            "127.0.0.1:8080",
            "fake.example:80",
            "[::1]:8080",
            "scalingo-db",
        ] {
            assert!(is_authority(ok), "{ok}");
        }
        for bad in [
            "",
            "a\"b<script>",
            "evil.com@x",
            "x/y",
            "h:",
            "h:port",
            "h:123456",
            "[zz]",
            "a b",
        ] {
            assert!(!is_authority(bad), "{bad}");
        }
    }
}
