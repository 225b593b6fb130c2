//! Reading what a request brings: its JSON body (within the size limit), its
//! query parameters, and its credentials, checked by [`crate::auth`].

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::{Body as _, Incoming};
use hyper::header::{AUTHORIZATION, CONNECTION, CONTENT_LENGTH};
use hyper::http::request::Parts;
use hyper::StatusCode;

use super::response::{self, Reply};
use crate::auth::Decision;
use crate::shared::Shared;

/// Whether the request's bearer token opens `target` (the addon id of the
/// database the route names; `None` when none exists): the error side is
/// the 401 or 403 to send.
pub(crate) fn authorize(shared: &Shared, parts: &Parts, target: Option<&str>) -> Result<(), Reply> {
    let header = parts.headers.get(AUTHORIZATION).map(|v| v.as_bytes());
    match shared.credentials.check(header, target) {
        Decision::Allow => Ok(()),
        Decision::Unauthorized(why) => Err(response::error(StatusCode::UNAUTHORIZED, &why, None)),
        Decision::Forbidden => Err(response::error(
            StatusCode::FORBIDDEN,
            "this token does not give access to this database",
            Some("forbidden"),
        )),
    }
}

/// A JSON object body.
pub(crate) type JsonObject = serde_json::Map<String, serde_json::Value>;

/// Reads a request body up to the limit: `Ok(None)` when empty, 413 past the
/// limit, 408 when it does not arrive within the body read timeout, 400 when
/// it is not a JSON object.
pub(crate) async fn read_json(shared: &Shared, parts: &Parts, body: Incoming) -> Result<Option<JsonObject>, Reply> {
    let limit = shared.body_limit;
    let too_large = || {
        response::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            &format!("request body over the limit of {limit} bytes"),
            None,
        )
    };
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    if body.is_end_stream() {
        return Ok(None);
    }
    let read = tokio::time::timeout(shared.body_read_timeout, Limited::new(body, limit).collect());
    let Ok(collected) = read.await else {
        return Err(body_timed_out(shared));
    };
    let bytes: Bytes = match collected {
        Ok(c) => c.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return Err(too_large()),
        Err(e) => {
            return Err(response::error(
                StatusCode::BAD_REQUEST,
                &format!("could not read the request body: {e}"),
                Some("bad_request"),
            ))
        }
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(map)) => Ok(Some(map)),
        Ok(_) => Err(response::error(
            StatusCode::BAD_REQUEST,
            "the request body must be a JSON object",
            Some("bad_request"),
        )),
        Err(e) => Err(response::error(
            StatusCode::BAD_REQUEST,
            &format!("the request body is not valid JSON: {e}"),
            Some("bad_request"),
        )),
    }
}

/// The answer to a body that did not arrive in time: 408, and the
/// connection closed (the rest of the body is never read).
fn body_timed_out(shared: &Shared) -> Reply {
    let mut r = response::error(
        StatusCode::REQUEST_TIMEOUT,
        &format!(
            "the request body did not arrive within {} s",
            shared.body_read_timeout.as_secs_f64()
        ),
        Some("request_timeout"),
    );
    r.headers_mut()
        .insert(CONNECTION, hyper::header::HeaderValue::from_static("close"));
    r
}

/// The `key=value` pairs of a query string, percent-decoded (`+` is a
/// space), in order. The error names the parameter that is not valid
/// percent-encoded UTF-8, and says so.
pub(crate) fn query_pairs(query: &str) -> Result<Vec<(String, String)>, (String, String)> {
    let bad = |name: &str| (name.to_string(), "is not valid percent-encoded UTF-8".to_string());
    query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let key = percent_decode(k).ok_or_else(|| bad(k))?;
            let value = percent_decode(v).ok_or_else(|| bad(&key))?;
            Ok((key, value))
        })
        .collect()
}

/// `text` with `%XX` escapes and `+` decoded; `None` for a broken escape or
/// bytes that are not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let hex = |b: Option<u8>| char::from(b?).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(b) = bytes.next() {
        out.push(match b {
            b'+' => b' ',
            b'%' => hex(bytes.next())? << 4 | hex(bytes.next())?,
            other => other,
        });
    }
    String::from_utf8(out).ok()
}

/// The fake's base URL as the client sees it: the public URL when one is
/// set, else the scheme and authority the client used (see
/// [`super::strict::client_base`]: a 400 when they are not valid), so links
/// work from the host and from inside a compose network alike.
pub(crate) fn public_base(shared: &Shared, parts: &Parts) -> Result<String, Reply> {
    match &shared.public_url {
        Some(url) => Ok(url.trim_end_matches('/').to_string()),
        None => super::strict::client_base(parts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_pairs_are_decoded_in_order() {
        let pairs = query_pairs("a=1&&b=x%2Fy+z&c&d=%C3%A9").unwrap();
        let want = [("a", "1"), ("b", "x/y z"), ("c", ""), ("d", "é")];
        assert_eq!(pairs.len(), want.len());
        for ((k, v), (wk, wv)) in pairs.iter().zip(want) {
            assert_eq!((k.as_str(), v.as_str()), (wk, wv));
        }
        assert!(query_pairs("").unwrap().is_empty());
    }

    #[test]
    fn broken_escapes_name_their_parameter() {
        assert_eq!(query_pairs("ok=1&limit=%zz").unwrap_err().0, "limit");
        assert_eq!(query_pairs("limit=%4").unwrap_err().0, "limit");
        assert_eq!(query_pairs("x=%FF").unwrap_err().0, "x");
        assert_eq!(query_pairs("%=1").unwrap_err().0, "%");
    }
}
