//! What the fuzz targets of spot-balancer share: the invariants every answer
//! must keep, the structured requests the structure-aware target builds, and
//! a host whose replies come from the fuzzer.
//!
//! A broken invariant is a panic, which libFuzzer reports as a crash and
//! saves the input under `fuzz/artifacts/<target>/`.

pub mod host;
pub mod input;
pub mod invariants;
