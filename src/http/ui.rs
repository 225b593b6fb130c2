//! The dashboard at `GET /_fake/ui`: one page of plain HTML, CSS and
//! JavaScript (`ui/index.html`, `ui/dashboard.css`, `ui/dashboard.js`, each
//! readable on its own), embedded in the crate and served as one document.
//! No build step and nothing fetched from elsewhere: it works offline.
//!
//! The page polls the control plane (`/_fake/clock`, `/_fake/backups`,
//! `/_fake/faults`, `/_fake/requests`) every half second and steers the fake
//! through the same routes a test uses.
//!
//! **Admin token**: the page is static and holds no data, so it is served
//! without the admin token, like the health check. Its `<body>` says whether
//! the fake has one (`data-admin-token="required"`); the page then asks for
//! it and sends `Authorization: Bearer …` on every fetch, which the other
//! `/_fake` routes check as they check any client's.
//!
//! The answer's `Content-Security-Policy` allows the page's own inline style
//! and script (by hash) and fetches to its own origin, nothing else.

use std::sync::LazyLock;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS};
use hyper::{Response, StatusCode};
use sha2::{Digest, Sha256};

use super::body::Body;
use super::response::Reply;
use crate::shared::Shared;

const HTML: &str = include_str!("ui/index.html");
const CSS: &str = include_str!("ui/dashboard.css");
const JS: &str = include_str!("ui/dashboard.js");

/// Where `index.html` takes the style sheet and the script.
const CSS_SLOT: &str = "/* dashboard.css */";
const JS_SLOT: &str = "/* dashboard.js */";
/// The `<body>` attribute that tells the page whether to ask for a token.
const TOKEN_SLOT: &str = r#"data-admin-token="none""#;

/// The page as served: without and with an admin token on the fake, and
/// the policy that lets its inline style and script run.
struct Page {
    open: Bytes,
    guarded: Bytes,
    policy: HeaderValue,
}

/// `html` with the style sheet and the script in their slots.
fn assemble(html: &str) -> String {
    html.replacen(CSS_SLOT, CSS, 1).replacen(JS_SLOT, JS, 1)
}

static PAGE: LazyLock<Page> = LazyLock::new(|| {
    let html = assemble(HTML);
    let guarded = assemble(&HTML.replacen(TOKEN_SLOT, r#"data-admin-token="required""#, 1));
    let hash = |text: &str| format!("'sha256-{}'", STANDARD.encode(Sha256::digest(text.as_bytes())));
    let policy = format!(
        "default-src 'none'; style-src {}; script-src {}; connect-src 'self'; img-src data:; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        hash(CSS),
        hash(JS)
    );
    Page {
        open: Bytes::from(html),
        guarded: Bytes::from(guarded),
        // Base64 and the fixed text are visible ASCII.
        policy: HeaderValue::from_str(&policy).unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'")),
    }
});

/// 200 with the dashboard's page (`text/html`).
pub(crate) fn page(shared: &Shared) -> Reply {
    let page = &*PAGE;
    let needs_token = shared.credentials.check_admin(None).is_err();
    let html = if needs_token { &page.guarded } else { &page.open };
    let mut r = Response::new(Body::full(html.clone()));
    *r.status_mut() = StatusCode::OK;
    let headers = r.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(CONTENT_SECURITY_POLICY, page.policy.clone());
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_its_slots_and_its_parts_cannot_close_their_element() {
        assert_eq!(HTML.matches(CSS_SLOT).count(), 1);
        assert_eq!(HTML.matches(JS_SLOT).count(), 1);
        assert_eq!(HTML.matches(TOKEN_SLOT).count(), 1);
        assert!(!CSS.to_ascii_lowercase().contains("</style"));
        assert!(!JS.to_ascii_lowercase().contains("</script"));
        let page = &*PAGE;
        let open = std::str::from_utf8(&page.open).unwrap();
        assert!(!open.contains(CSS_SLOT) && !open.contains(JS_SLOT));
        assert!(open.contains(CSS) && open.contains(JS));
        assert!(std::str::from_utf8(&page.guarded)
            .unwrap()
            .contains(r#"data-admin-token="required""#));
        assert!(page.policy.to_str().unwrap().contains("script-src 'sha256-"));
    }
}
