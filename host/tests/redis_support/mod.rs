//! Helpers shared by the tests of the Redis capability: a real server,
//! direct calls to the capability, and admissions through the real policy.
//!
//! Each test file uses only some of these helpers, hence the `dead_code`
//! allowance. The policy helpers build on the host's own test support, so
//! a test file declares `mod support;` next to `mod redis_support;`.
#![allow(dead_code)]

pub mod admissions;
pub mod calls;
pub mod server;
