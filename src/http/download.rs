//! The archive link (`GET …/backups/:id/archive`) and the download it points
//! to (`GET`/`HEAD …/backups/:id/download?token=…`).
//!
//! The link's host is the one the client used (see
//! [`super::request::public_base`]). The download needs no `Authorization`:
//! its token is the credential.

use hyper::header::{
    HeaderValue, ACCEPT_RANGES, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, IF_RANGE, RANGE,
};
use hyper::http::request::Parts;
use hyper::{Method, Response, StatusCode};
use serde_json::json;

use super::body::{ArchiveStream, Body, FileStream};
use super::request::public_base;
use super::response::{self, Reply};
use crate::control;
use crate::download::archive::Archive;
use crate::download::range::{self, RangeOutcome};
use crate::download::{archive_spec, token::TokenError};
use crate::error::Error;
use crate::model::Status;
use crate::shared::Shared;
use crate::store::ArchiveTarget;

/// 200 `{"download_url": …}` for a done backup of `db` (already found and
/// authorized), 400 otherwise; the link is signed by
/// [`control::download_url`], as the control plane's link is.
pub(crate) fn archive_link(shared: &Shared, db_in_path: &str, backup: &str, parts: &Parts) -> Reply {
    let base = match public_base(shared, parts) {
        Ok(b) => b,
        Err(reply) => return reply,
    };
    match control::download_url(shared, db_in_path, backup, &base) {
        Ok(url) => response::json(StatusCode::OK, &json!({ "download_url": url })),
        Err(e) => response::from_error(&e),
    }
}

/// 400 for a backup that has no archive (yet).
fn not_done(id: &str, status: Status) -> Reply {
    response::from_error(&Error::NotDone {
        backup: id.to_string(),
        status,
    })
}

/// The token of `?token=…`, percent-decoded, if any.
fn query_token(parts: &Parts) -> Option<String> {
    let pairs = super::request::query_pairs(parts.uri.query()?).ok()?;
    pairs
        .into_iter()
        .find_map(|(k, v)| (k == "token").then_some(v))
        .filter(|t| !t.is_empty())
}

/// The archive bytes (or headers alone for `HEAD`), whole or a `Range` of them.
pub(crate) async fn download(shared: &Shared, db: &str, backup: &str, parts: &Parts) -> Reply {
    let Some(token) = query_token(parts) else {
        return response::error(
            StatusCode::UNAUTHORIZED,
            "missing download token: ask GET …/archive for a download_url",
            None,
        );
    };
    let Some(db) = shared.store.db(db) else {
        return response::not_found("database");
    };
    let Some(target) = db.archive_target(backup) else {
        return response::not_found("backup");
    };
    let now = shared.store.now();
    if let Err(e) = shared
        .signer
        .verify(&token, &target.addon_id, &target.backup_id, now.div_euclid(1000))
    {
        let code = match e {
            TokenError::Expired => "download_token_expired",
            TokenError::Malformed | TokenError::BadSignature => "download_token_invalid",
        };
        return response::error(StatusCode::FORBIDDEN, &e.to_string(), Some(code));
    }
    let (Status::Done, Some(size)) = (target.status, target.size) else {
        return not_done(&target.backup_id, target.status);
    };
    let etag = format!("\"{}-{size:x}\"", target.backup_id);
    let header = |name| parts.headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    let outcome = range::evaluate(header(RANGE), header(IF_RANGE), &etag, size);
    let mut builder = archive_headers(&target.name, &etag);
    let span = match outcome {
        RangeOutcome::Unsatisfiable => {
            let mut r = response::error(
                StatusCode::RANGE_NOT_SATISFIABLE,
                &format!("the range is outside the archive's {size} bytes"),
                None,
            );
            if let Ok(v) = HeaderValue::from_str(&range::unsatisfied_range(size)) {
                r.headers_mut().insert(CONTENT_RANGE, v);
            }
            r.headers_mut().insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
            return r;
        }
        RangeOutcome::Full => 0..size,
        RangeOutcome::Partial(r) => {
            builder = builder
                .status(StatusCode::PARTIAL_CONTENT)
                .header(CONTENT_RANGE, range::content_range(&r, size));
            r
        }
    };
    let len = span.end - span.start;
    builder = builder.header(CONTENT_LENGTH, len);
    let body = if parts.method == Method::HEAD {
        Body::empty()
    } else {
        match archive_body(&target, span, size).await {
            Ok(body) => body,
            Err(reply) => return reply,
        }
    };
    builder.body(body).unwrap_or_else(|e| {
        response::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("cannot build the response: {e}"),
            None,
        )
    })
}

/// The headers every archive answer carries.
fn archive_headers(name: &str, etag: &str) -> hyper::http::response::Builder {
    Response::builder()
        .header(CONTENT_TYPE, "application/gzip")
        .header(ACCEPT_RANGES, "bytes")
        .header(ETAG, etag)
        .header(
            CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"{}.tar.gz\"",
                name.replace(['"', '\\', '\r', '\n'], "_")
            ),
        )
}

/// The bytes `span` of the archive of `target` (done, `size` bytes long):
/// its file, or the generated archive.
async fn archive_body(target: &ArchiveTarget, span: std::ops::Range<u64>, size: u64) -> Result<Body, Reply> {
    let label = format!("{} ({})", target.name, target.backup_id);
    let len = span.end - span.start;
    if let Some(path) = &target.file {
        match open_at(path, span.start).await {
            Ok(file) => Ok(Body::File(Box::new(FileStream {
                file,
                remaining: len,
                label,
            }))),
            Err(e) => Err(response::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("cannot read the archive file of backup {}: {e}", target.backup_id),
                Some("archive_unreadable"),
            )),
        }
    } else {
        let spec = archive_spec(
            &target.db_type,
            &target.addon_id,
            &target.backup_id,
            &target.name,
            size,
            target.created_secs,
        );
        match Archive::new(&spec) {
            Ok(archive) => Ok(Body::Archive(Box::new(ArchiveStream {
                chunks: archive.chunks(span),
                remaining: len,
                label,
            }))),
            Err(e) => Err(response::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("cannot build the archive of backup {}: {e}", target.backup_id),
                Some("archive_unbuildable"),
            )),
        }
    }
}

/// Opens an archive file at `offset` off the runtime's threads, refusing
/// anything but a regular file (it was one at load; a FIFO put in its place
/// since must not hang a download: it is opened without blocking).
async fn open_at(path: &std::path::Path, offset: u64) -> std::io::Result<tokio::fs::File> {
    use std::io::{Seek, SeekFrom};
    let path = path.to_path_buf();
    let file = tokio::task::spawn_blocking(move || {
        let mut options = std::fs::OpenOptions::new();
        options.read(true);
        #[cfg(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64")))]
        {
            use std::os::unix::fs::OpenOptionsExt;
            // O_NONBLOCK: opening a FIFO with no writer returns at once.
            options.custom_flags(0o4000);
        }
        let mut file = options.open(&path)?;
        if !file.metadata()?.is_file() {
            return Err(std::io::Error::other("not a regular file any more"));
        }
        file.seek(SeekFrom::Start(offset))?;
        Ok(file)
    })
    .await
    .map_err(std::io::Error::other)??;
    Ok(tokio::fs::File::from_std(file))
}
