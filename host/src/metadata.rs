//! The metadata `kwctl annotate` embeds in a policy module.
//!
//! An annotated module carries a wasm custom section named
//! [`METADATA_SECTION`] whose bytes are the policy's metadata as JSON. The
//! host needs one field of it: `contextAwareResources`, the Kubernetes
//! kinds the policy may read when it runs with `--allow-context-aware`
//! (kwctl calls this trusting the policy's metadata).
//!
//! The section is found by walking the module's section headers; the walk is
//! bounds-checked at every step and returns an error, never panics, on a
//! truncated or malformed module.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use thiserror::Error;

/// Name of the custom section `kwctl annotate` writes the metadata to.
pub const METADATA_SECTION: &str = "io.kubewarden.metadata";

/// The first eight bytes of every core wasm module: magic and version 1.
const WASM_HEADER: [u8; 8] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];

/// Section id of custom sections in the wasm binary format.
const CUSTOM_SECTION_ID: u8 = 0;

/// Why the metadata of a module could not be read.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum MetadataError {
    /// The bytes do not start with the wasm magic and version 1.
    #[error("failed to read module: not a wasm module (bad magic or version)")]
    NotWasm,

    /// A section header or name runs past the end of the module.
    #[error("failed to read module: section at byte {offset} is truncated")]
    Truncated {
        /// Byte offset of the section header.
        offset: usize,
    },

    /// The metadata section is not the JSON `kwctl annotate` writes.
    #[error("failed to parse section {METADATA_SECTION}: {reason}")]
    Json {
        /// What the JSON parser reported.
        reason: String,
    },
}

/// One Kubernetes kind a context-aware policy may read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContextAwareResource {
    /// `apiVersion` of the kind, `v1` for the core group.
    pub api_version: String,
    /// Singular PascalCase kind, e.g. `Pod`.
    pub kind: String,
}

/// The parts of a policy's metadata this host acts on.
///
/// Unknown fields are ignored: the metadata format belongs to Kubewarden and
/// grows fields the host has no use for.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// Kinds the policy may read; empty when the field is absent.
    #[serde(default)]
    pub context_aware_resources: BTreeSet<ContextAwareResource>,
    /// Whether the policy declares that it mutates; `false` when absent.
    #[serde(default)]
    pub mutating: bool,
    /// The policy's annotations, as `io.kubewarden.policy.title`; empty
    /// when absent.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

impl Metadata {
    /// Reads the metadata section of a module, if it has one.
    ///
    /// Returns `Ok(None)` for a module that was never annotated.
    ///
    /// # Errors
    ///
    /// [`MetadataError`] when the bytes are not a wasm module, a section is
    /// truncated, or the metadata section is not valid metadata JSON.
    pub fn from_module(module: &[u8]) -> Result<Option<Metadata>, MetadataError> {
        match custom_section(module, METADATA_SECTION)? {
            None => Ok(None),
            Some(data) => serde_json::from_slice(data)
                .map(Some)
                .map_err(|e| MetadataError::Json {
                    reason: e.to_string(),
                }),
        }
    }
}

/// One section of a module, as found by walking the section headers.
struct Section<'m> {
    /// The section id; 0 for custom sections.
    id: u8,
    /// Where the whole section, header included, lies in the module.
    span: std::ops::Range<usize>,
    /// For a custom section, its name and its data.
    custom: Option<(&'m [u8], &'m [u8])>,
}

/// Every section of `module`, in order.
///
/// Walks section headers only; section bodies other than custom ones are
/// skipped by their declared size.
fn sections(module: &[u8]) -> Result<Vec<Section<'_>>, MetadataError> {
    if module.get(..WASM_HEADER.len()) != Some(&WASM_HEADER[..]) {
        return Err(MetadataError::NotWasm);
    }
    let mut found = Vec::new();
    let mut offset = WASM_HEADER.len();
    while offset < module.len() {
        let truncated = || MetadataError::Truncated { offset };
        // Section header: one id byte, then the body size as LEB128.
        let id = module[offset];
        let (size, size_len) = read_leb128_u32(&module[offset + 1..]).ok_or_else(truncated)?;
        let body_start = offset + 1 + size_len;
        let body_end = body_start
            .checked_add(size as usize)
            .ok_or_else(truncated)?;
        let body = module.get(body_start..body_end).ok_or_else(truncated)?;
        let custom = if id == CUSTOM_SECTION_ID {
            // Custom section body: the name as a length-prefixed string, then data.
            let (name_len, name_len_len) = read_leb128_u32(body).ok_or_else(truncated)?;
            let name_end = name_len_len
                .checked_add(name_len as usize)
                .ok_or_else(truncated)?;
            let name = body.get(name_len_len..name_end).ok_or_else(truncated)?;
            Some((name, &body[name_end..]))
        } else {
            None
        };
        found.push(Section {
            id,
            span: offset..body_end,
            custom,
        });
        offset = body_end;
    }
    Ok(found)
}

/// Returns the contents of the first custom section called `name`.
fn custom_section<'m>(module: &'m [u8], name: &str) -> Result<Option<&'m [u8]>, MetadataError> {
    Ok(sections(module)?
        .into_iter()
        .find_map(|section| match section.custom {
            Some((section_name, data)) if section_name == name.as_bytes() => Some(data),
            _ => None,
        }))
}

/// The module with every custom section called `name` removed, and the
/// other sections as they were.
///
/// # Errors
///
/// [`MetadataError`] when the bytes are not a wasm module or a section is
/// truncated.
pub fn without_custom_section(module: &[u8], name: &str) -> Result<Vec<u8>, MetadataError> {
    let mut kept = WASM_HEADER.to_vec();
    for section in sections(module)? {
        let named = matches!(section.custom, Some((found, _)) if found == name.as_bytes());
        if section.id != CUSTOM_SECTION_ID || !named {
            kept.extend_from_slice(&module[section.span]);
        }
    }
    Ok(kept)
}

/// A custom section called `name` holding `data`, ready to append to a
/// module.
pub fn custom_section_bytes(name: &str, data: &[u8]) -> Vec<u8> {
    let mut body = leb128_u32(name.len());
    body.extend_from_slice(name.as_bytes());
    body.extend_from_slice(data);
    let mut section = vec![CUSTOM_SECTION_ID];
    section.extend(leb128_u32(body.len()));
    section.extend(body);
    section
}

/// Encodes `value` as unsigned LEB128. Sections are at most 4 GiB by the
/// format; a larger length is cut to its low 32 bits by the cast, which no
/// module this host reads can reach.
fn leb128_u32(value: usize) -> Vec<u8> {
    let mut value = value as u32;
    let mut bytes = Vec::new();
    loop {
        let low = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            bytes.push(low);
            return bytes;
        }
        bytes.push(low | 0x80);
    }
}

/// Decodes an unsigned LEB128 number of at most 32 bits.
///
/// Returns the value and the number of bytes it took, or `None` when the
/// bytes end before the number does or it needs more than five bytes.
fn read_leb128_u32(bytes: &[u8]) -> Option<(u32, usize)> {
    let mut value: u32 = 0;
    for (index, byte) in bytes.iter().take(5).enumerate() {
        let low = u32::from(byte & 0x7f);
        // The fifth byte may carry only the top four bits of a u32.
        if index == 4 && low > 0x0f {
            return None;
        }
        value |= low << (7 * index);
        if byte & 0x80 == 0 {
            return Some((value, index + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use rstest::rstest;

    /// Builds a module from the header and the given `(id, body)` sections.
    fn module(sections: &[(u8, Vec<u8>)]) -> Vec<u8> {
        let mut bytes = WASM_HEADER.to_vec();
        for (id, body) in sections {
            bytes.push(*id);
            bytes.extend(leb128_u32(body.len()));
            bytes.extend(body);
        }
        bytes
    }

    /// Encodes a custom section body: its name, then its data.
    fn custom(name: &str, data: &[u8]) -> (u8, Vec<u8>) {
        let mut body = leb128_u32(name.len());
        body.extend(name.as_bytes());
        body.extend(data);
        (CUSTOM_SECTION_ID, body)
    }

    #[test]
    fn replaces_a_custom_section() {
        // A type section, the old metadata, another custom section.
        let old = module(&[
            (1, vec![0x00]),
            custom(METADATA_SECTION, b"{}"),
            custom("name", b"n"),
        ]);
        let mut new = without_custom_section(&old, METADATA_SECTION).unwrap();
        assert_eq!(new, module(&[(1, vec![0x00]), custom("name", b"n")]));

        new.extend(custom_section_bytes(
            METADATA_SECTION,
            br#"{"mutating":true}"#,
        ));
        let metadata = Metadata::from_module(&new).unwrap().unwrap();
        assert!(metadata.mutating);
    }

    #[rstest]
    #[case(0, &[0x00])]
    #[case(127, &[0x7f])]
    #[case(128, &[0x80, 0x01])]
    #[case(624_485, &[0xe5, 0x8e, 0x26])]
    fn encodes_leb128(#[case] value: usize, #[case] bytes: &[u8]) {
        assert_eq!(leb128_u32(value), bytes);
        assert_eq!(read_leb128_u32(bytes), Some((value as u32, bytes.len())));
    }

    #[rstest]
    #[case::one_byte(&[0x05], Some((5, 1)))]
    #[case::two_bytes(&[0xe5, 0x8e, 0x26], Some((624_485, 3)))]
    #[case::max(&[0xff, 0xff, 0xff, 0xff, 0x0f], Some((u32::MAX, 5)))]
    #[case::overflowing_fifth_byte(&[0xff, 0xff, 0xff, 0xff, 0x1f], None)]
    #[case::unterminated(&[0x80, 0x80], None)]
    #[case::empty(&[], None)]
    fn decodes_leb128(#[case] bytes: &[u8], #[case] expected: Option<(u32, usize)>) {
        assert_eq!(read_leb128_u32(bytes), expected);
    }

    #[test]
    fn reads_context_aware_resources() {
        let json = br#"{"protocolVersion":"v1","rules":[],"mutating":true,
            "contextAwareResources":[{"apiVersion":"v1","kind":"Pod"},
                                     {"apiVersion":"v1","kind":"Node"}]}"#;
        let bytes = module(&[
            (1, vec![0x00]),
            custom("name", b"x"),
            custom(METADATA_SECTION, json),
        ]);

        let metadata = Metadata::from_module(&bytes).unwrap().unwrap();

        let kinds: Vec<(&str, &str)> = metadata
            .context_aware_resources
            .iter()
            .map(|r| (r.api_version.as_str(), r.kind.as_str()))
            .collect();
        assert_eq!(kinds, [("v1", "Node"), ("v1", "Pod")]);
        assert!(metadata.mutating);
    }

    #[rstest]
    #[case::no_sections(module(&[]))]
    #[case::other_custom_sections(module(&[custom("producers", b"rustc")]))]
    fn unannotated_module_has_no_metadata(#[case] bytes: Vec<u8>) {
        assert_eq!(Metadata::from_module(&bytes), Ok(None));
    }

    #[rstest]
    #[case::not_wasm(b"hello world".to_vec(), MetadataError::NotWasm)]
    #[case::section_past_end(
        {
            let mut bytes = WASM_HEADER.to_vec();
            bytes.extend([0x01, 0x10, 0x00]);
            bytes
        },
        MetadataError::Truncated { offset: 8 }
    )]
    #[case::name_past_section_end(
        module(&[(CUSTOM_SECTION_ID, vec![0x09, b'a'])]),
        MetadataError::Truncated { offset: 8 }
    )]
    #[case::bad_json(
        module(&[custom(METADATA_SECTION, b"{\"contextAwareResources\": 3}")]),
        MetadataError::Json {
            reason: "invalid type: integer `3`, expected a sequence at line 1 column 27".into()
        }
    )]
    fn malformed_modules_are_errors(#[case] bytes: Vec<u8>, #[case] expected: MetadataError) {
        assert_eq!(Metadata::from_module(&bytes), Err(expected));
    }
}
