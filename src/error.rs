//! The library's error type, shared by the in-process handle and the
//! `/_fake` control API (which answers each variant with its HTTP status).

use std::fmt;

use crate::fixtures::FixtureError;
use crate::model::Status;

/// What can go wrong when starting or steering a fake server.
#[derive(Debug)]
pub enum Error {
    /// A fixture file is invalid (file, line, column and what is wrong).
    Fixture(FixtureError),
    /// The listening socket could not be opened.
    Bind(std::io::Error),
    /// A setting or a control input is out of range: each field with what is
    /// wrong (over HTTP: a 422 with the same fields).
    Invalid(Vec<FieldError>),
    /// No such database, backup or fault rule (`"database"`, `"backup"`,
    /// `"fault"`; over HTTP: a 404 naming the same resource).
    NotFound(&'static str),
    /// The backup is not `done`, so it has no archive to link to (over
    /// HTTP: a 400 with the code `backup_not_done`, as the database API's
    /// `…/archive` answers).
    NotDone {
        /// The backup's id.
        backup: String,
        /// Its status now.
        status: Status,
    },
    /// A remote fake could not be reached, or answered something this
    /// client does not understand (the status, if any, and what happened).
    Remote(Option<u16>, String),
}

/// One field of a setting or control input and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The field, named as in the configuration or the HTTP body
    /// (`failure_rate`, `max_backups_per_database`, `set`…).
    pub field: String,
    /// What is wrong, in a sentence.
    pub message: String,
}

impl Error {
    /// An [`Error::Invalid`] of one field.
    ///
    /// ```
    /// use scalingo_db_fake::Error;
    /// let e = Error::invalid("retention", "must be at least 1");
    /// assert_eq!(e.to_string(), "invalid retention: must be at least 1");
    /// assert!(matches!(&e, Error::Invalid(fields) if fields[0].field == "retention"));
    /// ```
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Invalid(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }

    /// An [`Error::Invalid`] from `(field, message)` pairs.
    pub(crate) fn invalid_fields<F: Into<String>>(errors: impl IntoIterator<Item = (F, String)>) -> Self {
        Error::Invalid(
            errors
                .into_iter()
                .map(|(field, message)| FieldError {
                    field: field.into(),
                    message,
                })
                .collect(),
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Fixture(e) => write!(f, "invalid fixture: {e}"),
            Error::Bind(e) => write!(f, "cannot listen: {e}"),
            Error::Invalid(errors) => {
                for (i, e) in errors.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "invalid {}: {}", e.field, e.message)?;
                }
                Ok(())
            }
            Error::NotFound(what) => write!(f, "no such {what}"),
            Error::NotDone { backup, status } => write!(
                f,
                "backup {backup} is {}: only a done backup can be downloaded",
                status.as_str()
            ),
            Error::Remote(Some(status), what) => write!(f, "the remote fake answered {status}: {what}"),
            Error::Remote(None, what) => write!(f, "cannot reach the remote fake: {what}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Fixture(e) => Some(e),
            Error::Bind(e) => Some(e),
            _ => None,
        }
    }
}

impl From<FixtureError> for Error {
    fn from(e: FixtureError) -> Self {
        Error::Fixture(e)
    }
}
