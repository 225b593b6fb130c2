//! Building responses: JSON bodies and the documented error shapes, which
//! go-scalingo parses (every error body is JSON).

use bytes::Bytes;
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Response, StatusCode};
use serde::Serialize;
use serde_json::json;

use super::body::Body;

/// A response the handlers return.
pub type Reply = Response<Body>;

const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// `status` with `bytes` as its JSON body.
pub fn json_bytes(status: StatusCode, bytes: Vec<u8>) -> Reply {
    json_body(status, Bytes::from(bytes))
}

/// `status` with `bytes`, already JSON, as its body.
pub fn json_body(status: StatusCode, bytes: Bytes) -> Reply {
    let mut r = Response::new(Body::full(bytes));
    *r.status_mut() = status;
    r.headers_mut().insert(CONTENT_TYPE, JSON);
    r
}

/// The answer to a control error: 404 naming the resource, 422 naming each
/// field, or 400 `backup_not_done`.
pub fn from_error(e: &crate::Error) -> Reply {
    match e {
        crate::Error::NotFound(resource) => not_found(resource),
        crate::Error::NotDone { .. } => error(StatusCode::BAD_REQUEST, &e.to_string(), Some("backup_not_done")),
        crate::Error::Invalid(errors) => unprocessable(errors.iter().map(|e| (e.field.as_str(), e.message.clone()))),
        other => error(StatusCode::INTERNAL_SERVER_ERROR, &other.to_string(), Some("internal")),
    }
}

/// `status` with `value` serialized as its JSON body.
pub fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> Reply {
    match serde_json::to_vec(value) {
        Ok(bytes) => json_bytes(status, bytes),
        Err(e) => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot encode the response: {e}"),
            Some("internal"),
        ),
    }
}

/// `{"<key>": value}` with `value`'s own field order (a `json!` map would
/// sort the keys; the API fixes the order of a backup's fields).
pub fn wrapped<T: Serialize + ?Sized>(status: StatusCode, key: &str, value: &T) -> Reply {
    let mut out = Vec::with_capacity(512);
    out.push(b'{');
    // Writing into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut out, key);
    out.push(b':');
    if let Err(e) = serde_json::to_writer(&mut out, value) {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot encode the response: {e}"),
            Some("internal"),
        );
    }
    out.push(b'}');
    json_bytes(status, out)
}

/// `{"error": message, "code": code}` (code left out when `None`), keys in
/// that order.
pub fn error(status: StatusCode, message: &str, code: Option<&str>) -> Reply {
    #[derive(Serialize)]
    struct ErrorBody<'a> {
        error: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        code: Option<&'a str>,
    }
    let body = serde_json::to_vec(&ErrorBody { error: message, code }).unwrap_or_default();
    json_bytes(status, body)
}

/// The answer of a fault rule's status effect: `status` with `body` (JSON),
/// or `{"error":"fault injected by scalingo-db-fake","code":"fault_injected"}`
/// when none is given, and `Retry-After` when `retry_after` is.
pub fn fault(status: u16, body: Option<&serde_json::Value>, retry_after: Option<u64>) -> Reply {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let mut r = match body {
        Some(body) => json(status, body),
        None => error(status, "fault injected by scalingo-db-fake", Some("fault_injected")),
    };
    if let Some(secs) = retry_after {
        r.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
    }
    r
}

/// 404 `{"resource": resource, "error": "not found"}`, keys in that order.
pub fn not_found(resource: &str) -> Reply {
    #[derive(Serialize)]
    struct NotFound<'a> {
        resource: &'a str,
        error: &'a str,
    }
    let body = serde_json::to_vec(&NotFound {
        resource,
        error: "not found",
    })
    .unwrap_or_default();
    json_bytes(StatusCode::NOT_FOUND, body)
}

/// 405 with the `Allow` header.
pub fn method_not_allowed(allow: &str) -> Reply {
    let mut r = error(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("method not allowed on this route: use {allow}"),
        None,
    );
    if let Ok(v) = HeaderValue::from_str(allow) {
        r.headers_mut().insert(ALLOW, v);
    }
    r
}

/// 422 `{"errors": {field: [message…]}}`; `errors` is never empty.
pub fn unprocessable<'a>(errors: impl IntoIterator<Item = (&'a str, String)>) -> Reply {
    let mut map = serde_json::Map::new();
    for (field, message) in errors {
        let entry = map.entry(field.to_string()).or_insert_with(|| json!([]));
        if let Some(list) = entry.as_array_mut() {
            list.push(json!(message));
        }
    }
    if map.is_empty() {
        map.insert("base".into(), json!(["is invalid"]));
    }
    json_bytes(
        StatusCode::UNPROCESSABLE_ENTITY,
        json!({ "errors": map }).to_string().into_bytes(),
    )
}
