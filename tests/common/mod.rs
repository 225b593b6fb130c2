//! A small HTTP/1.1 client for the tests: one connection per request, over a
//! real loopback socket, built on hyper's client connection (no extra crate).
#![allow(dead_code)]

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::HeaderMap;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// A whole response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    /// The body as JSON (panics with the body if it is not JSON).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Sends one request to `url` (`http://host:port/path?query`).
pub async fn send(method: Method, url: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Resp {
    let uri: hyper::Uri = url.parse().expect("test URL");
    let authority = uri.authority().expect("URL has a host").clone();
    let stream = tokio::net::TcpStream::connect(authority.as_str())
        .await
        .expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let mut req = Request::builder()
        .method(method)
        .uri(uri.path_and_query().map_or("/", |p| p.as_str()))
        .header("host", authority.as_str());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let req = req
        .body(Full::new(Bytes::copy_from_slice(body.unwrap_or_default())))
        .expect("request");
    let resp = sender.send_request(req).await.expect("response");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    Resp { status, headers, body }
}

/// `GET url` with a bearer token.
pub async fn get(url: &str, token: &str) -> Resp {
    send(Method::GET, url, &[("authorization", &format!("Bearer {token}"))], None).await
}

/// `POST url` with a bearer token and a JSON body.
pub async fn post(url: &str, token: &str, body: &str) -> Resp {
    send(
        Method::POST,
        url,
        &[
            ("authorization", &format!("Bearer {token}")),
            ("content-type", "application/json"),
        ],
        Some(body.as_bytes()),
    )
    .await
}

/// `PATCH url` with a bearer token and a JSON body.
pub async fn patch(url: &str, token: &str, body: &str) -> Resp {
    send(
        Method::PATCH,
        url,
        &[
            ("authorization", &format!("Bearer {token}")),
            ("content-type", "application/json"),
        ],
        Some(body.as_bytes()),
    )
    .await
}

/// `PUT url` with a JSON body (control API: no token).
pub async fn put(url: &str, body: &str) -> Resp {
    send(
        Method::PUT,
        url,
        &[("content-type", "application/json")],
        Some(body.as_bytes()),
    )
    .await
}
