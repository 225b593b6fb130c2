//! Fault rules, what WireMock's faults and LocalStack's chaos API offer: a
//! rule says which requests it takes (method, route template, operation,
//! database), how often it fires (a seeded probability, an optional count)
//! and what it does to them (an error status, latency, a reset connection,
//! a cut body or a slow one).
//!
//! This file is pure: the rule types and their JSON form, the checks of
//! their values, the matching and the registry. Applying an effect is the
//! HTTP layer's work (`http/mod.rs`, `http/body.rs`); checking the names a
//! rule uses against the route table is the control core's
//! (`control.rs`).
//!
//! What the registry keeps true:
//! - **No rule, no cost**: one atomic flag says whether any rule can still
//!   fire; a request reads it before anything else and takes the lock only
//!   when it is set.
//! - **Determinism**: each rule draws from a generator of its own, seeded
//!   from the server's seed when the rule is added and from the rule's id;
//!   the same seed, rules and requests fire on the same requests every run.
//! - **First match wins**: rules are tried in the order they were added;
//!   the first that takes the request, has firings left and wins its draw
//!   fires, and only it. A rule that loses its draw lets the next try.
//! - **Retired rules stay listed**: a rule whose `times` are used up stays,
//!   with `remaining: 0`, until it is deleted, so a test can read its
//!   `hits`.

use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;
use rand::Rng;
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, FieldError};
use crate::ids::{self, DetRng};

/// The longest latency a rule may add, in milliseconds (ten minutes).
pub const MAX_LATENCY_MS: u64 = 600_000;

/// Which requests a rule takes. A field left out matches every request;
/// the fields given must all match.
///
/// In JSON: `{"method": "POST", "route": "/api/databases/:db/backups",
/// "operation": "backups.create", "database": "my-db-123"}`, every key
/// optional.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FaultMatch {
    /// The request method, exactly (`"POST"`); `HEAD` is not `GET`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// A route template exactly as in the route table
    /// (`"/api/databases/:db/backups"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<String>,
    /// An operation name (`"backups.create"`, `"backups.download"`,
    /// `"tokens.exchange"`…); unlike `method`, it takes a route's `HEAD`
    /// along with its `GET`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// A database, by addon id or database id: takes the requests whose
    /// `:db` or `:addon` path segment names that database, by either id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
}

/// The chainable setters of [`FaultMatch`], one per field.
macro_rules! match_setters {
    ($($field:ident: $what:literal, $example:literal;)*) => {
        impl FaultMatch {
            $(
                #[doc = concat!(
                    "Takes only requests ", $what, ".\n\n```\nuse scalingo_db_fake::FaultMatch;\n",
                    "let m = FaultMatch::default().", stringify!($field), "(", stringify!($example), ");\n",
                    "assert_eq!(m.", stringify!($field), ".as_deref(), Some(", stringify!($example), "));\n```"
                )]
                pub fn $field(mut self, value: &str) -> Self {
                    self.$field = Some(value.to_string());
                    self
                }
            )*
        }
    };
}

match_setters! {
    method: "of this method", "POST";
    route: "of the route whose template this is", "/api/databases/:db/backups";
    operation: "of the operation of this name", "backups.create";
    database: "naming this database (by addon id or database id)", "my-db-123";
}

/// What a rule does to a request it fires on. In JSON, the effect's keys
/// sit at the top level of the rule, beside `match`.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultEffect {
    /// Answer `status` (400–599) at once, with `body` (default
    /// `{"error":"fault injected by scalingo-db-fake","code":"fault_injected"}`)
    /// and a `Retry-After` of `retry_after` seconds when given.
    /// JSON: `{"status": 503, "body": {…}, "retry_after": 5}`.
    Status {
        /// The HTTP status, 400 to 599.
        status: u16,
        /// The JSON body; `None` for the default one.
        body: Option<Value>,
        /// The `Retry-After` header, in seconds.
        retry_after: Option<u64>,
    },
    /// Wait, then answer normally. JSON: `{"latency_ms": N}`.
    Latency {
        /// How long, in milliseconds (at most [`MAX_LATENCY_MS`]).
        ms: u64,
    },
    /// Close the connection without any response. JSON: `{"reset": true}`.
    Reset,
    /// Send the normal status and headers (the full `Content-Length`), then
    /// only the first `bytes` bytes of the body, then abort the connection.
    /// A body no longer than `bytes` is sent whole.
    /// JSON: `{"cut_after_bytes": N}`.
    CutAfter {
        /// How many body bytes go out.
        bytes: u64,
    },
    /// Send the normal answer, its body slowly, at about `bytes_per_sec`.
    /// JSON: `{"drip_bytes_per_sec": N}`.
    Drip {
        /// The rate, 1 or more bytes per second.
        bytes_per_sec: u64,
    },
}

/// A fault rule, as a test writes it: which requests, how often, what
/// effect. The fake gives it an id when it is added (see [`Fault`]).
///
/// In JSON: `{"match": {…}, "probability": 0.5, "times": 2, "status": 503}`
/// (`match`, `probability` and `times` optional; exactly one effect).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FaultRule {
    /// Which requests it takes.
    #[serde(rename = "match")]
    pub matching: FaultMatch,
    /// The chance it fires on a request it takes, 0.0 to 1.0 (default 1.0).
    pub probability: f64,
    /// How many times it fires before it retires; `None`: no limit.
    pub times: Option<u64>,
    /// What it does.
    #[serde(flatten)]
    pub effect: FaultEffect,
}

impl FaultRule {
    /// A rule with `effect` on every request the faults apply to, always,
    /// with no limit.
    ///
    /// ```
    /// use scalingo_db_fake::{FaultEffect, FaultRule};
    /// let rule = FaultRule::new(FaultEffect::Reset);
    /// assert_eq!(rule.probability, 1.0);
    /// assert_eq!(serde_json::to_value(&rule).unwrap()["reset"], true);
    /// ```
    pub fn new(effect: FaultEffect) -> Self {
        Self {
            matching: FaultMatch::default(),
            probability: 1.0,
            times: None,
            effect,
        }
    }

    /// The rule, taking only the requests `matching` takes.
    ///
    /// ```
    /// use scalingo_db_fake::{FaultEffect, FaultMatch, FaultRule};
    /// let rule = FaultRule::new(FaultEffect::Latency { ms: 200 })
    ///     .when(FaultMatch::default().operation("backups.list"));
    /// assert_eq!(rule.matching.operation.as_deref(), Some("backups.list"));
    /// ```
    pub fn when(mut self, matching: FaultMatch) -> Self {
        self.matching = matching;
        self
    }

    /// The rule, firing with chance `p` (0.0 to 1.0).
    ///
    /// ```
    /// use scalingo_db_fake::{FaultEffect, FaultRule};
    /// let rule = FaultRule::new(FaultEffect::Reset).probability(0.25);
    /// assert_eq!(rule.probability, 0.25);
    /// ```
    pub fn probability(mut self, p: f64) -> Self {
        self.probability = p;
        self
    }

    /// The rule, retiring after firing `n` times.
    ///
    /// ```
    /// use scalingo_db_fake::{FaultEffect, FaultRule};
    /// let rule = FaultRule::new(FaultEffect::Reset).times(2);
    /// assert_eq!(rule.times, Some(2));
    /// ```
    pub fn times(mut self, n: u64) -> Self {
        self.times = Some(n);
        self
    }

    /// Reads a rule from its JSON form, naming each field that is not of
    /// the right type, is unknown, or when the effect is missing or not
    /// alone. The values' ranges are checked when the rule is added.
    ///
    /// ```
    /// use scalingo_db_fake::{FaultEffect, FaultRule};
    /// let rule = FaultRule::from_json(&serde_json::json!({"status": 429, "retry_after": 5})).unwrap();
    /// assert_eq!(rule.effect, FaultEffect::Status { status: 429, body: None, retry_after: Some(5) });
    /// let bad = FaultRule::from_json(&serde_json::json!({"status": 503, "reset": true}));
    /// assert!(bad.unwrap_err().to_string().contains("effect"));
    /// ```
    pub fn from_json(value: &Value) -> Result<Self, Error> {
        let Some(obj) = value.as_object() else {
            return Err(Error::invalid(
                "base",
                format!("a fault rule is a JSON object, got {value}"),
            ));
        };
        let mut errors = Vec::new();
        let rule = parse_rule(obj, &mut errors);
        checked(rule, errors)
    }

    /// What is wrong with the rule's values (probability, times, status,
    /// latency, rate, the match's strings), each with its JSON field; empty
    /// when nothing is. The route table's names are checked apart, when the
    /// rule is added.
    pub(crate) fn check(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut bad = |field: &str, message: &str| errors.push(field_error(field, message.to_string()));
        let p = self.probability;
        if !(p.is_finite() && (0.0..=1.0).contains(&p)) {
            bad("probability", "must be a number from 0.0 to 1.0");
        }
        if self.times == Some(0) {
            bad("times", "must be 1 or more (leave it out for no limit)");
        }
        let m = &self.matching;
        for (field, value) in [
            ("match.method", &m.method),
            ("match.route", &m.route),
            ("match.operation", &m.operation),
            ("match.database", &m.database),
        ] {
            if value.as_deref() == Some("") {
                bad(field, "must not be empty (leave it out to match every request)");
            }
        }
        match &self.effect {
            FaultEffect::Status { status, .. } if !(400..=599).contains(status) => {
                bad("status", "must be an HTTP status from 400 to 599");
            }
            FaultEffect::Latency { ms } if *ms > MAX_LATENCY_MS => {
                bad("latency_ms", &format!("must be at most {MAX_LATENCY_MS} (ten minutes)"));
            }
            FaultEffect::Drip { bytes_per_sec: 0 } => bad("drip_bytes_per_sec", "must be 1 or more"),
            _ => {}
        }
        errors
    }
}

/// A rule as the fake keeps it: its id, the rule, and how it has fired.
///
/// In JSON, the rule's fields with `id` first and `remaining` and `hits`
/// last: `{"id": "f1", "match": {}, "probability": 1.0, "times": 2,
/// "status": 503, "remaining": 1, "hits": 1}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Fault {
    /// `f1`, `f2`…: given in order, never reused by a server.
    pub id: String,
    /// The rule.
    #[serde(flatten)]
    pub rule: FaultRule,
    /// Firings left before it retires; `None` when unlimited. A retired
    /// rule stays listed with 0 until deleted.
    pub remaining: Option<u64>,
    /// How many times it fired.
    pub hits: u64,
}

impl Fault {
    /// Reads a listed rule from its JSON form (what `GET /_fake/faults`
    /// lists), naming each field that is wrong.
    ///
    /// ```
    /// use scalingo_db_fake::{Fault, FaultEffect};
    /// let json = serde_json::json!({"id": "f1", "match": {}, "probability": 1.0,
    ///     "times": null, "reset": true, "remaining": null, "hits": 3});
    /// let fault = Fault::from_json(&json).unwrap();
    /// assert_eq!((fault.id.as_str(), fault.hits, fault.rule.effect), ("f1", 3, FaultEffect::Reset));
    /// ```
    pub fn from_json(value: &Value) -> Result<Self, Error> {
        let Some(obj) = value.as_object() else {
            return Err(Error::invalid("base", format!("a fault is a JSON object, got {value}")));
        };
        let mut errors = Vec::new();
        let mut rest = obj.clone();
        let id = match rest.remove("id") {
            Some(Value::String(id)) => id,
            other => {
                errors.push(field_error(
                    "id",
                    format!("must be a string, got {}", other.unwrap_or_default()),
                ));
                String::new()
            }
        };
        let remaining = optional_u64(rest.remove("remaining").as_ref(), "remaining", &mut errors);
        let hits = optional_u64(rest.remove("hits").as_ref(), "hits", &mut errors).unwrap_or(0);
        let rule = parse_rule(&rest, &mut errors);
        checked(
            rule.map(|rule| Fault {
                id,
                rule,
                remaining,
                hits,
            }),
            errors,
        )
    }
}

impl Serialize for FaultEffect {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        match self {
            FaultEffect::Status {
                status,
                body,
                retry_after,
            } => {
                m.serialize_entry("status", status)?;
                if let Some(body) = body {
                    m.serialize_entry("body", body)?;
                }
                if let Some(secs) = retry_after {
                    m.serialize_entry("retry_after", secs)?;
                }
            }
            FaultEffect::Latency { ms } => m.serialize_entry("latency_ms", ms)?,
            FaultEffect::Reset => m.serialize_entry("reset", &true)?,
            FaultEffect::CutAfter { bytes } => m.serialize_entry("cut_after_bytes", bytes)?,
            FaultEffect::Drip { bytes_per_sec } => m.serialize_entry("drip_bytes_per_sec", bytes_per_sec)?,
        }
        m.end()
    }
}

/// `Deserialize` through the JSON form's own reader, so serde and the HTTP
/// face accept and refuse the same documents.
macro_rules! deserialize_from_json {
    ($t:ty, $read:expr) => {
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let value = Value::deserialize(d)?;
                $read(&value).map_err(serde::de::Error::custom)
            }
        }
    };
}

deserialize_from_json!(FaultRule, FaultRule::from_json);
deserialize_from_json!(Fault, Fault::from_json);
deserialize_from_json!(FaultMatch, |v: &Value| {
    let mut errors = Vec::new();
    let m = parse_match(Some(v), &mut errors);
    checked(Some(m), errors)
});
deserialize_from_json!(FaultEffect, |v: &Value| {
    let mut errors = Vec::new();
    let effect = parse_effect(&v.as_object().cloned().unwrap_or_default(), &mut errors);
    checked(effect, errors)
});

// ---------------------------------------------------------------------------
// Reading the JSON form
// ---------------------------------------------------------------------------

/// The keys of an effect, each alone (`body` and `retry_after` go with
/// `status`).
const EFFECTS: [&str; 5] = ["status", "latency_ms", "reset", "cut_after_bytes", "drip_bytes_per_sec"];
const MATCH_KEYS: [&str; 4] = ["method", "route", "operation", "database"];

fn field_error(field: &str, message: String) -> FieldError {
    FieldError {
        field: field.to_string(),
        message,
    }
}

/// `value` when no problem was found, else the problems.
fn checked<T>(value: Option<T>, errors: Vec<FieldError>) -> Result<T, Error> {
    match value {
        Some(v) if errors.is_empty() => Ok(v),
        _ => Err(Error::Invalid(errors)),
    }
}

/// A present, non-null value.
fn given<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

fn optional_u64(v: Option<&Value>, field: &str, errors: &mut Vec<FieldError>) -> Option<u64> {
    match v {
        None | Some(Value::Null) => None,
        Some(v) => v.as_u64().or_else(|| {
            errors.push(field_error(
                field,
                format!("must be a whole number, 0 or more, got {v}"),
            ));
            None
        }),
    }
}

/// The rule in `obj`, every problem pushed to `errors` (`None` when the
/// effect cannot be read).
fn parse_rule(obj: &Map<String, Value>, errors: &mut Vec<FieldError>) -> Option<FaultRule> {
    for key in obj.keys() {
        let known = ["match", "probability", "times", "body", "retry_after"].contains(&key.as_str())
            || EFFECTS.contains(&key.as_str());
        if !known {
            errors.push(field_error(
                key,
                "is not a field of a fault rule: give `match`, `probability`, `times` and one effect".to_string(),
            ));
        }
    }
    let matching = parse_match(obj.get("match"), errors);
    let probability = match given(obj, "probability") {
        None => 1.0,
        Some(v) => v.as_f64().unwrap_or_else(|| {
            errors.push(field_error(
                "probability",
                format!("must be a number from 0.0 to 1.0, got {v}"),
            ));
            1.0
        }),
    };
    let times = optional_u64(obj.get("times"), "times", errors);
    let effect = parse_effect(obj, errors)?;
    Some(FaultRule {
        matching,
        probability,
        times,
        effect,
    })
}

fn parse_match(v: Option<&Value>, errors: &mut Vec<FieldError>) -> FaultMatch {
    let mut m = FaultMatch::default();
    let obj = match v {
        None | Some(Value::Null) => return m,
        Some(Value::Object(obj)) => obj,
        Some(other) => {
            errors.push(field_error("match", format!("must be an object, got {other}")));
            return m;
        }
    };
    for (key, value) in obj {
        let slot = match key.as_str() {
            "method" => &mut m.method,
            "route" => &mut m.route,
            "operation" => &mut m.operation,
            "database" => &mut m.database,
            _ => {
                let keys = MATCH_KEYS.join(", ");
                errors.push(field_error(
                    &format!("match.{key}"),
                    format!("is not a match field: use {keys}"),
                ));
                continue;
            }
        };
        match value {
            Value::Null => {}
            Value::String(s) => *slot = Some(s.clone()),
            other => errors.push(field_error(
                &format!("match.{key}"),
                format!("must be a string, got {other}"),
            )),
        }
    }
    m
}

/// The one effect of `obj`; `None` (with the problem pushed) when there is
/// not exactly one or it cannot be read.
fn parse_effect(obj: &Map<String, Value>, errors: &mut Vec<FieldError>) -> Option<FaultEffect> {
    let present: Vec<&str> = EFFECTS.iter().copied().filter(|k| given(obj, k).is_some()).collect();
    let [kind] = present[..] else {
        let got = if present.is_empty() {
            "none".to_string()
        } else {
            present.join(" and ")
        };
        let all = EFFECTS.join("`, `");
        errors.push(field_error("effect", format!("give exactly one of `{all}`; got {got}")));
        return None;
    };
    if kind != "status" {
        for key in ["body", "retry_after"] {
            if given(obj, key).is_some() {
                errors.push(field_error(key, "goes with the `status` effect only".to_string()));
            }
        }
    }
    let v = given(obj, kind)?;
    let mut number = |what: &str| {
        v.as_u64().or_else(|| {
            errors.push(field_error(kind, format!("must be {what}, got {v}")));
            None
        })
    };
    Some(match kind {
        "status" => {
            let status = number("an HTTP status from 400 to 599")?;
            let retry_after = optional_u64(obj.get("retry_after"), "retry_after", errors);
            FaultEffect::Status {
                status: u16::try_from(status).unwrap_or(u16::MAX),
                body: given(obj, "body").cloned(),
                retry_after,
            }
        }
        "latency_ms" => FaultEffect::Latency {
            ms: number("a whole number of milliseconds")?,
        },
        "cut_after_bytes" => FaultEffect::CutAfter {
            bytes: number("a whole number of bytes, 0 or more")?,
        },
        "drip_bytes_per_sec" => FaultEffect::Drip {
            bytes_per_sec: number("a whole number of bytes per second, 1 or more")?,
        },
        _ if *v == Value::Bool(true) => FaultEffect::Reset,
        _ => {
            errors.push(field_error("reset", format!("must be true, got {v}")));
            return None;
        }
    })
}

// ---------------------------------------------------------------------------
// The registry
// ---------------------------------------------------------------------------

/// What a request is, as the rules see it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FaultRequest<'a> {
    pub method: &'a str,
    /// The template of its route.
    pub route: &'a str,
    /// The name of its operation.
    pub operation: &'a str,
    /// Its `:db` / `:addon` segment; empty when it has none.
    pub database: &'a str,
}

/// A rule that fired on a request.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Fired {
    /// The rule's id.
    pub id: String,
    pub effect: FaultEffect,
}

/// Every rule of a server, in the order they are tried.
#[derive(Default)]
pub(crate) struct FaultRegistry {
    /// Whether some rule can still fire: read without the lock.
    armed: AtomicBool,
    rules: Mutex<Rules>,
}

#[derive(Default)]
struct Rules {
    /// The number of rules ever added (the next id's number minus 1).
    added: u64,
    entries: Vec<Entry>,
}

struct Entry {
    fault: Fault,
    /// Every id of the database the rule names (addon id, database id).
    databases: Vec<String>,
    rng: DetRng,
}

/// `want` is unset or is `got`.
fn takes(want: &Option<String>, got: &str) -> bool {
    want.as_deref().map_or(true, |w| w == got)
}

impl Entry {
    fn takes(&self, req: &FaultRequest<'_>) -> bool {
        let m = &self.fault.rule.matching;
        takes(&m.method, req.method)
            && takes(&m.route, req.route)
            && takes(&m.operation, req.operation)
            && (m.database.is_none() || self.databases.iter().any(|d| d == req.database))
    }

    /// Whether the rule fires on a request it takes (counted when it does).
    fn fires(&mut self) -> bool {
        if self.fault.remaining == Some(0) {
            return false;
        }
        let p = self.fault.rule.probability;
        let hit = p >= 1.0 || (p > 0.0 && self.rng.random::<f64>() < p);
        if hit {
            self.fault.hits += 1;
            if let Some(left) = &mut self.fault.remaining {
                *left -= 1;
            }
        }
        hit
    }
}

impl FaultRegistry {
    /// Whether any rule can still fire (one atomic load, no lock).
    pub fn armed(&self) -> bool {
        self.armed.load(Ordering::Acquire)
    }

    fn rearm(&self, rules: &Rules) {
        let live = rules.entries.iter().any(|e| e.fault.remaining != Some(0));
        self.armed.store(live, Ordering::Release);
    }

    /// Adds a checked rule, seeding its generator from `seed`; `databases`
    /// are the ids of the database its match names.
    pub fn add(&self, rule: FaultRule, seed: u64, databases: Vec<String>) -> Fault {
        let mut rules = self.rules.lock();
        rules.added += 1;
        let id = format!("f{}", rules.added);
        let fault = Fault {
            id: id.clone(),
            remaining: rule.times,
            hits: 0,
            rule,
        };
        rules.entries.push(Entry {
            fault: fault.clone(),
            databases,
            rng: ids::fault_rng(seed, &id),
        });
        self.rearm(&rules);
        fault
    }

    /// Every rule, in the order they are tried.
    pub fn list(&self) -> Vec<Fault> {
        self.rules.lock().entries.iter().map(|e| e.fault.clone()).collect()
    }

    /// Removes every rule (ids are not reused).
    pub fn clear(&self) {
        let mut rules = self.rules.lock();
        rules.entries.clear();
        self.rearm(&rules);
    }

    /// Removes rule `id`; `None` when there is none.
    pub fn remove(&self, id: &str) -> Option<Fault> {
        let mut rules = self.rules.lock();
        let at = rules.entries.iter().position(|e| e.fault.id == id)?;
        let entry = rules.entries.remove(at);
        self.rearm(&rules);
        Some(entry.fault)
    }

    /// The rule that fires on `req`, if one does (its count taken).
    pub fn pick(&self, req: &FaultRequest<'_>) -> Option<Fired> {
        let mut rules = self.rules.lock();
        let at = rules.entries.iter_mut().position(|e| e.takes(req) && e.fires())?;
        let entry = &rules.entries[at];
        let fired = Fired {
            id: entry.fault.id.clone(),
            effect: entry.fault.rule.effect.clone(),
        };
        if entry.fault.remaining == Some(0) {
            self.rearm(&rules);
        }
        Some(fired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LIST: FaultRequest<'static> = FaultRequest {
        method: "GET",
        route: "/api/databases/:db/backups",
        operation: "backups.list",
        database: "my-db-123",
    };

    fn rule(v: Value) -> FaultRule {
        FaultRule::from_json(&v).unwrap()
    }

    fn fields(e: Error) -> Vec<String> {
        match e {
            Error::Invalid(errors) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("not a field error: {other}"),
        }
    }

    /// Which of `n` requests like `req` fire, by index.
    fn firing(reg: &FaultRegistry, req: &FaultRequest<'_>, n: usize) -> Vec<usize> {
        (0..n).filter(|_| reg.pick(req).is_some()).collect()
    }

    #[test]
    fn each_match_field_narrows_what_a_rule_takes() {
        let reg = FaultRegistry::default();
        let keys = vec!["my-db-123".to_string(), "597601234ffb097af4f3099b".to_string()];
        for (m, takes_list) in [
            (json!({}), true),
            (json!({"method": "GET"}), true),
            (json!({"method": "POST"}), false),
            (json!({"route": "/api/databases/:db/backups"}), true),
            (json!({"route": "/api/databases/:db"}), false),
            (json!({"operation": "backups.list"}), true),
            (json!({"operation": "backups.create"}), false),
            (json!({"database": "my-db-123"}), true),
            (json!({"method": "GET", "operation": "backups.create"}), false),
        ] {
            reg.clear();
            reg.add(rule(json!({"match": m, "status": 503})), 1, keys.clone());
            assert_eq!(reg.pick(&LIST).is_some(), takes_list, "{m}");
        }
        // A database rule takes the database by either of its ids, and
        // nothing without a database.
        reg.clear();
        reg.add(
            rule(json!({"match": {"database": "my-db-123"}, "status": 503})),
            1,
            keys,
        );
        let by_id = FaultRequest {
            database: "597601234ffb097af4f3099b",
            ..LIST
        };
        assert!(reg.pick(&by_id).is_some());
        assert!(reg
            .pick(&FaultRequest {
                database: "other",
                ..LIST
            })
            .is_none());
        assert!(reg.pick(&FaultRequest { database: "", ..LIST }).is_none());
    }

    #[test]
    fn the_same_seed_fires_on_the_same_requests_and_another_seed_differs() {
        let run = |seed| {
            let reg = FaultRegistry::default();
            reg.add(rule(json!({"probability": 0.5, "reset": true})), seed, vec![]);
            (0..64).filter(|_| reg.pick(&LIST).is_some()).collect::<Vec<_>>()
        };
        let a = run(7);
        assert_eq!(a, run(7));
        assert_ne!(a, run(8));
        assert!((16..48).contains(&a.len()), "about half of 64 fire: {}", a.len());
    }

    #[test]
    fn probability_zero_never_fires_and_one_always_does() {
        let reg = FaultRegistry::default();
        reg.add(rule(json!({"probability": 0.0, "status": 500})), 1, vec![]);
        assert!(firing(&reg, &LIST, 20).is_empty());
        reg.add(rule(json!({"probability": 1.0, "status": 502})), 1, vec![]);
        assert_eq!(firing(&reg, &LIST, 20).len(), 20);
    }

    #[test]
    fn times_counts_firings_then_the_rule_retires_but_stays_listed() {
        let reg = FaultRegistry::default();
        let added = reg.add(rule(json!({"times": 2, "status": 503})), 1, vec![]);
        assert_eq!((added.id.as_str(), added.remaining, added.hits), ("f1", Some(2), 0));
        assert!(reg.armed());
        assert_eq!(firing(&reg, &LIST, 5), vec![0, 1]);
        assert!(!reg.armed(), "a retired rule disarms the registry");
        let listed = reg.list();
        assert_eq!((listed[0].remaining, listed[0].hits), (Some(0), 2));
    }

    #[test]
    fn the_first_rule_that_fires_wins_and_a_lost_draw_lets_the_next_try() {
        let reg = FaultRegistry::default();
        reg.add(rule(json!({"match": {"method": "POST"}, "status": 500})), 1, vec![]);
        reg.add(rule(json!({"probability": 0.0, "status": 501})), 1, vec![]);
        reg.add(rule(json!({"latency_ms": 5})), 1, vec![]);
        reg.add(rule(json!({"status": 503})), 1, vec![]);
        let fired = reg.pick(&LIST).unwrap();
        assert_eq!(
            fired,
            Fired {
                id: "f3".into(),
                effect: FaultEffect::Latency { ms: 5 }
            }
        );
        let hits: Vec<u64> = reg.list().iter().map(|f| f.hits).collect();
        assert_eq!(hits, vec![0, 0, 1, 0]);
    }

    #[test]
    fn removing_and_clearing_disarm_and_ids_are_not_reused() {
        let reg = FaultRegistry::default();
        assert!(!reg.armed());
        reg.add(rule(json!({"reset": true})), 1, vec![]);
        reg.add(rule(json!({"reset": true})), 1, vec![]);
        assert_eq!(reg.remove("f1").map(|f| f.id), Some("f1".to_string()));
        assert!(reg.remove("f1").is_none());
        assert!(reg.armed());
        reg.clear();
        assert!(!reg.armed() && reg.list().is_empty());
        assert_eq!(reg.add(rule(json!({"reset": true})), 1, vec![]).id, "f3");
    }

    #[test]
    fn the_json_form_round_trips_through_serde() {
        let cases = [
            json!({"match": {"method": "POST", "database": "d"}, "probability": 0.5, "times": 3,
                   "status": 429, "body": {"x": [1]}, "retry_after": 5}),
            json!({"match": {}, "probability": 1.0, "times": null, "latency_ms": 10}),
            json!({"match": {}, "probability": 1.0, "times": null, "reset": true}),
            json!({"match": {"operation": "backups.download"}, "probability": 1.0, "times": 1, "cut_after_bytes": 0}),
            json!({"match": {}, "probability": 1.0, "times": null, "drip_bytes_per_sec": 100}),
        ];
        for v in cases {
            let r: FaultRule = serde_json::from_value(v.clone()).unwrap();
            assert_eq!(serde_json::to_value(&r).unwrap(), v);
            let stored = Fault {
                id: "f9".into(),
                rule: r,
                remaining: Some(1),
                hits: 2,
            };
            let text = serde_json::to_string(&stored).unwrap();
            assert!(
                text.starts_with(r#"{"id":"f9","match":"#) && text.ends_with(r#""remaining":1,"hits":2}"#),
                "{text}"
            );
            assert_eq!(serde_json::from_str::<Fault>(&text).unwrap(), stored);
        }
    }

    #[test]
    fn malformed_rules_name_their_field() {
        let bad = |v: Value| fields(FaultRule::from_json(&v).unwrap_err());
        assert_eq!(bad(json!({})), ["effect"]);
        assert_eq!(bad(json!({"status": 503, "latency_ms": 1})), ["effect"]);
        assert_eq!(bad(json!({"reset": false})), ["reset"]);
        assert_eq!(bad(json!({"status": "503"})), ["status"]);
        assert_eq!(bad(json!({"latency_ms": -1})), ["latency_ms"]);
        assert_eq!(bad(json!({"reset": true, "retry_after": 1})), ["retry_after"]);
        assert_eq!(bad(json!({"reset": true, "match": {"path": "/"}})), ["match.path"]);
        assert_eq!(bad(json!({"reset": true, "match": {"route": 1}})), ["match.route"]);
        assert_eq!(bad(json!({"reset": true, "match": []})), ["match"]);
        assert_eq!(bad(json!({"reset": true, "probability": "x"})), ["probability"]);
        assert_eq!(bad(json!({"reset": true, "times": 1.5})), ["times"]);
        assert_eq!(bad(json!({"reset": true, "id": "f1"})), ["id"]);
        assert_eq!(bad(json!([1])), ["base"]);
    }

    #[test]
    fn out_of_range_values_name_their_field() {
        let check = |v: Value| rule(v).check().into_iter().map(|e| e.field).collect::<Vec<_>>();
        assert!(check(json!({"status": 599, "probability": 0.0, "times": 1})).is_empty());
        assert_eq!(check(json!({"status": 200})), ["status"]);
        assert_eq!(check(json!({"status": 70000})), ["status"]);
        assert_eq!(check(json!({"reset": true, "probability": 1.5})), ["probability"]);
        assert_eq!(check(json!({"reset": true, "times": 0})), ["times"]);
        assert_eq!(check(json!({"drip_bytes_per_sec": 0})), ["drip_bytes_per_sec"]);
        assert_eq!(check(json!({"latency_ms": 600_001})), ["latency_ms"]);
        assert_eq!(check(json!({"reset": true, "match": {"method": ""}})), ["match.method"]);
        let nan = FaultRule::new(FaultEffect::Reset).probability(f64::NAN);
        assert_eq!(nan.check()[0].field, "probability");
    }
}
