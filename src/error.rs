//! The library's error type.

use std::fmt;

use crate::fixtures::FixtureError;

/// What can go wrong when starting or steering a fake server.
#[derive(Debug)]
pub enum Error {
    /// A fixture file is invalid (file, line, column and what is wrong).
    Fixture(FixtureError),
    /// The listening socket could not be opened.
    Bind(std::io::Error),
    /// A setting is out of range (the setting, then what is wrong).
    Config(String, String),
    /// No such database or backup (`"database"`, `"backup"`).
    NotFound(&'static str),
    /// The clock was asked to move backwards.
    Clock(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Fixture(e) => write!(f, "invalid fixture: {e}"),
            Error::Bind(e) => write!(f, "cannot listen: {e}"),
            Error::Config(field, message) => write!(f, "invalid setting {field}: {message}"),
            Error::NotFound(what) => write!(f, "no such {what}"),
            Error::Clock(message) => f.write_str(message),
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
