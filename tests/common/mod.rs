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

/// Parses one raw HTTP/1.1 response (status line, headers, then a body of
/// `Content-Length` bytes, or everything left when there is none). `None`
/// while `raw` does not hold a whole response yet.
pub fn parse_response(raw: &[u8]) -> Option<Resp> {
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
    let rest = &raw[head_end + 4..];
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

/// Writes `request` (raw bytes, head and body as the test wrote them) to
/// `addr` while reading the response, so a server that answers before it has
/// read the whole body (a 413) is seen answering. Write errors are ignored:
/// the server may close the connection once it has answered.
pub async fn send_raw(addr: std::net::SocketAddr, request: Vec<u8>) -> Resp {
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

/// One request over a plain std socket (for tests without a runtime):
/// `Connection: close`, the whole response read.
pub fn blocking_get(addr: std::net::SocketAddr, path: &str, token: &str) -> Resp {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).expect("write request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read response");
    parse_response(&raw).unwrap_or_else(|| panic!("incomplete response: {}", String::from_utf8_lossy(&raw)))
}

/// The crate's binary, started by a test; killed on drop.
pub struct Running {
    pub child: std::process::Child,
    /// `http://ADDR:PORT`, from its `listening` line.
    pub url: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `Command` for the crate's binary, with a clean environment.
pub fn binary() -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_scalingo-db-fake"));
    cmd.env_clear();
    cmd
}

/// Spawns `cmd` with stdout piped and waits for its one `listening URL` line.
pub fn run_binary(mut cmd: std::process::Command) -> Running {
    use std::io::BufRead;
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().expect("piped stdout"))
        .read_line(&mut line)
        .expect("a first stdout line");
    let url = line
        .trim()
        .strip_prefix("listening ")
        .unwrap_or_else(|| panic!("first stdout line: {line:?}"))
        .to_string();
    Running { child, url }
}
