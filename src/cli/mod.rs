//! The binary's own modules (not part of the library): its log (the queue
//! and its drain thread, the line format), and the port file and health
//! check a container uses.

pub mod format;
pub mod health;
pub mod logging;
