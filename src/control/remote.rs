//! The HTTP transport of a [`crate::Control`] connected to a fake running
//! elsewhere (a docker-compose service, the binary): one request per call to
//! its `/_fake` routes, JSON in and out, errors turned back into the
//! [`Error`] the in-process face would have returned.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde_json::Value;

use crate::error::{Error, FieldError};

/// Where a remote fake is, and the admin token to send.
#[derive(Clone, Debug)]
pub(crate) struct Remote {
    /// `host:port`.
    authority: String,
    /// The path prefix of the fake (empty, or `/prefix`).
    prefix: String,
    admin_token: Option<String>,
}

impl Remote {
    /// A client of the fake at `url` (`http://host:port`).
    pub fn new(url: &str) -> Result<Self, Error> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| Error::invalid("url", format!("must be an http:// URL, got `{url}`")))?;
        let (authority, prefix) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
        if authority.is_empty() {
            return Err(Error::invalid("url", format!("has no host: `{url}`")));
        }
        let prefix = prefix.trim_end_matches('/');
        Ok(Self {
            authority: authority.to_string(),
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("/{prefix}")
            },
            admin_token: None,
        })
    }

    /// Sends `Authorization: Bearer <token>` with every call.
    pub fn with_admin_token(mut self, token: String) -> Self {
        self.admin_token = Some(token);
        self
    }

    /// `method path` with an optional JSON body: the JSON answer, or the
    /// error it stands for.
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, Error> {
        let unreachable = |e: &dyn std::fmt::Display| Error::Remote(None, e.to_string());
        let stream = tokio::net::TcpStream::connect(&self.authority)
            .await
            .map_err(|e| unreachable(&e))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| unreachable(&e))?;
        tokio::spawn(conn);
        let mut req = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.prefix))
            .header("host", &self.authority)
            .header("content-type", "application/json");
        if let Some(t) = &self.admin_token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let bytes = body.map(|b| b.to_string()).unwrap_or_default();
        let req = req.body(Full::new(Bytes::from(bytes))).map_err(|e| unreachable(&e))?;
        let resp = sender.send_request(req).await.map_err(|e| unreachable(&e))?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| unreachable(&e))?
            .to_bytes();
        let value: Value = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body).map_err(|e| {
                Error::Remote(
                    Some(status),
                    format!("not JSON ({e}): {}", String::from_utf8_lossy(&body)),
                )
            })?
        };
        if (200..300).contains(&status) {
            Ok(value)
        } else {
            Err(error_of(status, &value))
        }
    }
}

/// The [`Error`] an error answer stands for.
fn error_of(status: u16, body: &Value) -> Error {
    match status {
        404 => {
            let resource = match body["resource"].as_str() {
                Some("database") => "database",
                Some("backup") => "backup",
                Some("fault") => "fault",
                Some("app") => "app",
                Some("addon") => "addon",
                _ => "route",
            };
            Error::NotFound(resource)
        }
        422 => {
            let errors = body["errors"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .flat_map(|(field, messages)| {
                            let list = messages.as_array().cloned().unwrap_or_default();
                            list.into_iter().map(move |msg| FieldError {
                                field: field.clone(),
                                message: msg.as_str().unwrap_or_default().to_string(),
                            })
                        })
                        .collect()
                })
                .unwrap_or_default();
            Error::Invalid(errors)
        }
        400 if body["code"] == "backup_not_done" => not_done_of(body).unwrap_or_else(|| remote_error(status, body)),
        _ => remote_error(status, body),
    }
}

/// An answer the in-process face has no variant for, as it was sent.
fn remote_error(status: u16, body: &Value) -> Error {
    Error::Remote(Some(status), body["error"].as_str().unwrap_or("no message").to_string())
}

/// The [`Error::NotDone`] of a 400 `backup_not_done`, read back from its
/// message (`backup <id> is <status>: …`).
fn not_done_of(body: &Value) -> Option<Error> {
    let rest = body["error"].as_str()?.strip_prefix("backup ")?;
    let (backup, rest) = rest.split_once(" is ")?;
    let (status, _) = rest.split_once(':')?;
    let status = serde_json::from_value(Value::String(status.to_string())).ok()?;
    Some(Error::NotDone {
        backup: backup.to_string(),
        status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_host_and_an_optional_prefix() {
        let r = Remote::new("http://127.0.0.1:8080").unwrap();
        assert_eq!((r.authority.as_str(), r.prefix.as_str()), ("127.0.0.1:8080", ""));
        let r = Remote::new("http://fake:80/under/").unwrap();
        assert_eq!((r.authority.as_str(), r.prefix.as_str()), ("fake:80", "/under"));
        assert!(Remote::new("https://x").is_err());
        assert!(Remote::new("http://").is_err());
    }

    #[test]
    fn error_answers_become_the_errors_of_the_in_process_face() {
        let e = error_of(404, &serde_json::json!({"resource": "backup", "error": "not found"}));
        assert!(matches!(e, Error::NotFound("backup")));
        let e = error_of(422, &serde_json::json!({"errors": {"set": ["is backwards"]}}));
        assert!(matches!(&e, Error::Invalid(f) if f[0].field == "set" && f[0].message == "is backwards"));
        assert!(matches!(error_of(401, &Value::Null), Error::Remote(Some(401), _)));
        let not_done = Error::NotDone {
            backup: "65a1b2c3d4e5f60718293a4b".into(),
            status: crate::Status::Running,
        };
        let body = serde_json::json!({"error": not_done.to_string(), "code": "backup_not_done"});
        let back = error_of(400, &body);
        assert!(
            matches!(&back, Error::NotDone { backup, status: crate::Status::Running } if backup == "65a1b2c3d4e5f60718293a4b"),
            "{back:?}"
        );
        let garbled = serde_json::json!({"error": "nope", "code": "backup_not_done"});
        assert!(matches!(error_of(400, &garbled), Error::Remote(Some(400), _)));
    }
}
