//! Replay of recorded host-capability exchanges, in kwctl's session format.
//!
//! With `--replay-host-capabilities-interactions FILE`, kwctl answers a
//! policy's host calls from a session recorded earlier instead of asking a
//! cluster; tests run context-aware policies that way, offline and
//! reproducibly. This module reads the same files and answers the same way:
//! [`CallbackRequest`] is the recorded form of one request and
//! [`ReplaySession`] the ordered list of exchanges with its cursor.

mod request;
mod session;

pub use request::CallbackRequest;
pub use session::{EXHAUSTED, Exchange, ReplaySession, SessionError};
