//! What the fuzz targets in `fuzz/` reach that the API keeps private: the
//! route table. Built only with the internal `fuzzing` feature; not part of
//! the API, and free to change with the router.

use hyper::Method;

use crate::http::routes;

/// What the router makes of a request line's method and path.
#[derive(Debug)]
pub struct Routed<'a> {
    /// The template of the route the path names.
    pub template: &'static str,
    /// The operation the method runs there; `None`: a 405.
    pub operation: Option<&'static str>,
    /// The `Allow` header of the route.
    pub allow: String,
    /// The ids the path carries (`:db`/`:addon`, `:app`, `:backup`,
    /// `:fault`), empty where the template has none.
    pub ids: [&'a str; 4],
}

/// Routes `method` (as sent) and `path` (without its query) as the server
/// does: `None` when the method is not a valid token or no route matches.
pub fn route<'a>(method: &[u8], path: &'a str) -> Option<Routed<'a>> {
    let method = Method::from_bytes(method).ok()?;
    let matched = routes::find(path)?;
    let p = matched.params;
    Some(Routed {
        template: matched.route.template,
        operation: matched.op(&method).map(routes::Op::name),
        allow: matched.route.allow(),
        ids: [p.db, p.app, p.backup, p.fault],
    })
}
