//! A small HTTP/1.1 client for the tests, over real loopback sockets: whole
//! requests through hyper's client connection (no extra crate), and raw
//! connections for what a well-behaved client cannot send or see.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::HeaderMap;
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde_json::Value;

/// How long a raw blocking connection waits for the server before failing.
const RAW_READ_TIMEOUT: Duration = Duration::from_secs(30);

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

/// Opens one HTTP/1.1 connection to `authority` (`host:port`); the
/// connection is driven by a spawned task and serves requests in turn.
pub async fn connect(authority: &str) -> SendRequest<Full<Bytes>> {
    let stream = tokio::net::TcpStream::connect(authority)
        .await
        .unwrap_or_else(|e| panic!("connect to {authority}: {e}"));
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    sender
}

/// Sends one request to `url` (`http://host:port/path?query`) on a
/// connection of its own.
pub async fn send(method: Method, url: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Resp {
    let uri: hyper::Uri = url.parse().expect("test URL");
    let authority = uri.authority().expect("URL has a host").clone();
    let mut sender = connect(authority.as_str()).await;
    let mut req = Request::builder()
        .method(method)
        .uri(uri.path_and_query().map_or("/", |p| p.as_str()));
    // The URL's host, unless the test sends a Host of its own.
    if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
        req = req.header("host", authority.as_str());
    }
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

/// `GET url` without a token (the control API takes none).
pub async fn control_get(url: &str) -> Resp {
    send(Method::GET, url, &[], None).await
}

/// `POST url` without a token, with `body` as it is (the control API takes none).
pub async fn control_post(url: &str, body: Option<&str>) -> Resp {
    send(Method::POST, url, &[], body.map(str::as_bytes)).await
}

/// `PUT url` with a JSON body and no token (the control API takes none).
pub async fn control_put(url: &str, body: &str) -> Resp {
    send(
        Method::PUT,
        url,
        &[("content-type", "application/json")],
        Some(body.as_bytes()),
    )
    .await
}

/// The path and query of an absolute `http://` URL.
pub fn path_of(url: &str) -> String {
    let rest = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("not an http:// URL: {url}"));
    rest[rest.find('/').unwrap_or(rest.len())..].to_string()
}

// ---------------------------------------------------------------------------
// Raw connections
// ---------------------------------------------------------------------------

/// The status and headers of a raw HTTP/1.1 response, and the offset where
/// its body starts; `None` while `raw` does not hold the whole head yet.
fn parse_head(raw: &[u8]) -> Option<(u16, HeaderMap, usize)> {
    let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..head_end]).expect("response head is text");
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status: u16 = status_line.split(' ').nth(1)?.parse().ok()?;
    let mut headers = HeaderMap::new();
    for line in lines {
        let (k, v) = line.split_once(':')?;
        let name = hyper::header::HeaderName::from_bytes(k.trim().as_bytes()).ok()?;
        let value = hyper::header::HeaderValue::from_str(v.trim()).ok()?;
        headers.append(name, value);
    }
    Some((status, headers, head_end + 4))
}

/// Parses one raw HTTP/1.1 response (status line, headers, then a body of
/// `Content-Length` bytes, or everything left when there is none). `None`
/// while `raw` does not hold a whole response yet.
pub fn parse_response(raw: &[u8]) -> Option<Resp> {
    let (status, headers, body_start) = parse_head(raw)?;
    let rest = &raw[body_start..];
    let body = match headers
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
    {
        Some(n) if rest.len() >= n => Bytes::copy_from_slice(&rest[..n]),
        Some(_) => return None,
        None => Bytes::copy_from_slice(rest),
    };
    Some(Resp { status, headers, body })
}

/// How a raw request frames its body.
#[derive(Clone, Copy, Debug)]
pub enum Framing {
    Length,
    Chunked,
}

/// The bytes of a request with a bearer token and a JSON body framed as
/// `framing` says.
pub fn raw_request(
    method: &Method,
    path: &str,
    addr: SocketAddr,
    token: &str,
    framing: Framing,
    body: &[u8],
) -> Vec<u8> {
    let mut out = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n"
    )
    .into_bytes();
    match framing {
        Framing::Length => {
            out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
            out.extend_from_slice(body);
        }
        Framing::Chunked => {
            out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
            for chunk in body.chunks(64 * 1024) {
                out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                out.extend_from_slice(chunk);
                out.extend_from_slice(b"\r\n");
            }
            out.extend_from_slice(b"0\r\n\r\n");
        }
    }
    out
}

/// Writes `request` (raw bytes, head and body as the test wrote them) to
/// `addr` while reading the response, so a server that answers before it has
/// read the whole body (a 413) is seen answering. Write errors are ignored:
/// the server may close the connection once it has answered.
pub async fn send_raw(addr: SocketAddr, request: Vec<u8>) -> Resp {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut rd, mut wr) = stream.into_split();
    let writer = tokio::spawn(async move {
        let _ = wr.write_all(&request).await;
        let _ = wr.flush().await;
        wr
    });
    let mut raw = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        if let Some(resp) = parse_response(&raw) {
            writer.abort();
            return resp;
        }
        match rd.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(e) => panic!(
                "reading the response failed ({e}) after {} bytes: {}",
                raw.len(),
                String::from_utf8_lossy(&raw)
            ),
        }
    }
    parse_response(&raw).unwrap_or_else(|| panic!("incomplete response: {}", String::from_utf8_lossy(&raw)))
}

/// One HEAD over a raw connection (`Connection: close`), read until the
/// server closes it. The returned `body` holds every byte the server sent
/// after the head — which must be none. (A real client never shows a HEAD
/// response's body, so only a raw socket can see one sent by mistake.)
pub async fn head_raw(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Resp {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let mut head = format!("HEAD {path} HTTP/1.1\r\nHost: {addr}\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).await.expect("write request");
    let mut raw = Vec::new();
    tokio::time::timeout(RAW_READ_TIMEOUT, stream.read_to_end(&mut raw))
        .await
        .expect("the server closes the connection after a HEAD with Connection: close")
        .expect("read response");
    let (status, headers, body_start) =
        parse_head(&raw).unwrap_or_else(|| panic!("incomplete response head: {}", String::from_utf8_lossy(&raw)));
    Resp {
        status,
        headers,
        body: Bytes::copy_from_slice(&raw[body_start..]),
    }
}

/// Opens a plain std connection to `addr` (`host:port`) and writes a
/// `Connection: close` request head for `method path_and_query`, with the
/// extra `headers`. Reads time out after 30 s.
pub fn blocking_request(addr: &str, method: &str, path_and_query: &str, headers: &[(&str, &str)]) -> TcpStream {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    stream.set_read_timeout(Some(RAW_READ_TIMEOUT)).expect("read timeout");
    let mut head = format!("{method} {path_and_query} HTTP/1.1\r\nHost: {addr}\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    stream.write_all(head.as_bytes()).expect("write request");
    stream
}

/// Everything the server sends back on `stream` until it closes it.
fn read_all(mut stream: TcpStream) -> Vec<u8> {
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read response");
    raw
}

/// One GET with a bearer token over a plain std socket (for tests without a
/// runtime): `Connection: close`, the whole response read.
pub fn blocking_get(addr: SocketAddr, path: &str, token: &str) -> Resp {
    let auth = format!("Bearer {token}");
    let raw = read_all(blocking_request(
        &addr.to_string(),
        "GET",
        path,
        &[("Authorization", &auth)],
    ));
    parse_response(&raw).unwrap_or_else(|| panic!("incomplete response: {}", String::from_utf8_lossy(&raw)))
}

/// Sends a GET for `path_and_query` on `addr` and returns the stream
/// positioned at the start of the body, with the response head as text.
pub fn blocking_open(addr: &str, path_and_query: &str, headers: &[(&str, &str)]) -> (BufReader<TcpStream>, String) {
    let stream = blocking_request(addr, "GET", path_and_query, headers);
    let mut r = BufReader::with_capacity(1 << 20, stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line).expect("read the response head");
        if line == "\r\n" || line.is_empty() {
            break;
        }
        head.push_str(&line);
    }
    (r, head)
}
