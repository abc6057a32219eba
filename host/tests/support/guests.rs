//! Tiny waPC guests written in the wasm text format.
//!
//! Each function returns the source of a module that does one thing a real
//! policy might do badly or rarely: trap, report an error, answer a fixed
//! text, or forward its payload to a host call. wasmtime compiles the text
//! format directly, so these guests need no toolchain and build instantly.

/// The guest imports of the waPC ABI, as the text format declares them.
const WAPC_IMPORTS: &str = r#"
  (import "wapc" "__guest_request" (func $guest_request (param i32 i32)))
  (import "wapc" "__guest_response" (func $guest_response (param i32 i32)))
  (import "wapc" "__guest_error" (func $guest_error (param i32 i32)))
  (import "wapc" "__host_call"
    (func $host_call (param i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wapc" "__host_response_len" (func $host_response_len (result i32)))
  (import "wapc" "__host_response" (func $host_response (param i32)))
  (import "wapc" "__host_error_len" (func $host_error_len (result i32)))
  (import "wapc" "__host_error" (func $host_error (param i32)))
  (memory (export "memory") 2)
"#;

/// A wasm text string literal holding exactly `text`'s bytes.
fn literal(text: &str) -> String {
    let escaped: String = text.bytes().map(|b| format!("\\{b:02x}")).collect();
    format!("\"{escaped}\"")
}

/// A guest whose every call traps (`unreachable`).
pub fn trapping() -> String {
    format!(
        "(module {WAPC_IMPORTS}
           (func (export \"__guest_call\") (param i32 i32) (result i32) unreachable))"
    )
}

/// A guest whose every call fails with `message` as its guest error.
pub fn failing(message: &str) -> String {
    format!(
        "(module {WAPC_IMPORTS}
           (data (i32.const 0) {text})
           (func (export \"__guest_call\") (param i32 i32) (result i32)
             (call $guest_error (i32.const 0) (i32.const {len}))
             (i32.const 0)))",
        text = literal(message),
        len = message.len()
    )
}

/// A guest that answers every call with `answer`.
pub fn answering(answer: &str) -> String {
    format!(
        "(module {WAPC_IMPORTS}
           (data (i32.const 0) {text})
           (func (export \"__guest_call\") (param i32 i32) (result i32)
             (call $guest_response (i32.const 0) (i32.const {len}))
             (i32.const 1)))",
        text = literal(answer),
        len = answer.len()
    )
}

/// A guest that forwards its payload to the host call
/// `binding/namespace/operation` and answers with the host's response, or
/// with the host's error text when the host call fails.
///
/// Memory layout: the three names at 0, 256 and 512; the guest request
/// (operation at 1024, payload at 2048); the host's answer at 65536.
pub fn forwarding(binding: &str, namespace: &str, operation: &str) -> String {
    format!(
        "(module {WAPC_IMPORTS}
           (data (i32.const 0) {binding})
           (data (i32.const 256) {namespace})
           (data (i32.const 512) {operation})
           (func (export \"__guest_call\") (param $op_len i32) (param $payload_len i32) (result i32)
             (local $len i32)
             (call $guest_request (i32.const 1024) (i32.const 2048))
             (if (call $host_call
                   (i32.const 0) (i32.const {binding_len})
                   (i32.const 256) (i32.const {namespace_len})
                   (i32.const 512) (i32.const {operation_len})
                   (i32.const 2048) (local.get $payload_len))
               (then
                 (local.set $len (call $host_response_len))
                 (call $host_response (i32.const 65536)))
               (else
                 (local.set $len (call $host_error_len))
                 (call $host_error (i32.const 65536))))
             (call $guest_response (i32.const 65536) (local.get $len))
             (i32.const 1)))",
        binding = literal(binding),
        namespace = literal(namespace),
        operation = literal(operation),
        binding_len = binding.len(),
        namespace_len = namespace.len(),
        operation_len = operation.len()
    )
}
