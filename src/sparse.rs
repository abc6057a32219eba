//! The `validate` payload, parsed only where the policy looks.
//!
//! Building a `Value` tree of the whole payload was most of the policy's own
//! cost per request (BENCHMARKS.md has the numbers): a pod is mostly
//! containers, volumes and status, which the policy never reads. [`parse`]
//! builds the tree only for what the policy reads or writes: the request's
//! own fields, the settings, and of each pod its `kind`, its `metadata`
//! (less `managedFields`) and the three scheduling fields of its `spec`.
//! Every other member is kept as the exact text it arrived in, and
//! [`Merged`] writes a mutated pod back out with those texts in place, so
//! what the policy does not own leaves it byte for byte.
//!
//! The tree is the same one a full parse gives, minus the members kept as
//! text: keys in their order, a repeated key keeping its first place and
//! its last value, numbers exact. A payload is refused exactly when a full
//! parse refuses it, with the same error: serde_json checks the text of a
//! member it skips, but not how deeply it nests nor whether its `\u`
//! escapes pair up, so a member nested near serde_json's limit or holding
//! a surrogate escape sends the payload through a full parse as well, and
//! so does any error, for the full parse's exact message.

use indexmap::IndexMap;
use serde::de::value::SeqAccessDeserializer;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use serde_json::{Map, Number, Value};
use std::cell::Cell;
use std::fmt;

/// How deeply serde_json lets containers nest: the 128th container within
/// one another is refused.
const NESTING_LIMIT: usize = 127;

/// The key under which serde_json, with `arbitrary_precision`, hands a
/// number to a visitor: a one-entry map holding the number's digits.
const NUMBER_KEY: &str = "$serde_json::private::Number";

/// A parsed payload; the default is the `null` document.
#[derive(Default)]
pub struct Sparse<'a> {
    /// The payload's tree, without the members kept as text.
    pub view: Value,
    /// Where the members kept as text belong.
    shape: Shape<'a>,
}

impl<'a> Sparse<'a> {
    /// The shape of the request's `object`, to write a mutated pod back out
    /// with [`Merged`].
    pub fn object_shape(&self) -> &Shape<'a> {
        self.shape
            .member("request")
            .and_then(|request| request.member("object"))
            .unwrap_or(&Shape::Parsed)
    }
}

/// Parses a payload, keeping as text what the policy never reads.
///
/// # Errors
///
/// serde_json's error when the payload is not one JSON document; it is the
/// error a full parse would give.
pub fn parse(payload: &[u8]) -> Result<Sparse<'_>, serde_json::Error> {
    let doubtful = Cell::new(false);
    let parsed = sparse_parse(payload, &doubtful);
    match parsed {
        Ok(sparse) if !doubtful.get() => Ok(sparse),
        // Only a full tree checks nesting and escapes: skipping does not.
        Ok(sparse) => serde_json::from_slice::<Value>(payload).map(|_| sparse),
        // A refusal the full parse does not share would be this parser's
        // mistake: the full tree, with nothing kept as text, is the answer.
        Err(_) => serde_json::from_slice::<Value>(payload).map(|view| Sparse {
            view,
            shape: Shape::Parsed,
        }),
    }
}

/// Parses `payload` sparsely; sets `doubtful` when a member kept as text
/// may hold what a full parse refuses.
fn sparse_parse<'a>(
    payload: &'a [u8],
    doubtful: &Cell<bool>,
) -> Result<Sparse<'a>, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(payload);
    let node = NodeSeed {
        level: Level::Payload,
        doubtful,
    }
    .deserialize(&mut deserializer)?;
    deserializer.end()?;
    let (shape, view) = split(node);
    Ok(Sparse {
        view: view.unwrap_or(Value::Null),
        shape,
    })
}

/// Where in the payload an object sits, which says how each of its members
/// is parsed.
#[derive(Debug, Clone, Copy)]
enum Level {
    /// The payload: `request` and `settings`.
    Payload,
    /// The AdmissionRequest.
    Request,
    /// A pod: the request's `object` or `oldObject`.
    Pod,
    /// A pod's `metadata`.
    Metadata,
    /// A pod's `spec`.
    Spec,
}

/// How one member of an object is parsed.
enum Member {
    /// Kept as text: the policy never reads it.
    Text,
    /// Parsed whole.
    Parsed,
    /// Parsed member by member, at the given level.
    Nested(Level),
}

impl Level {
    /// How many containers hold a member of an object at this level.
    fn enclosing(self) -> usize {
        match self {
            Level::Payload => 1,
            Level::Request => 2,
            Level::Pod => 3,
            Level::Metadata | Level::Spec => 4,
        }
    }

    /// How the member `key` of an object at this level is parsed.
    fn member(self, key: &str) -> Member {
        match (self, key) {
            (Level::Payload, "request") => Member::Nested(Level::Request),
            (Level::Request, "object" | "oldObject") => Member::Nested(Level::Pod),
            (Level::Payload | Level::Request, _) => Member::Parsed,
            (Level::Pod, "kind") => Member::Parsed,
            (Level::Pod, "metadata") => Member::Nested(Level::Metadata),
            (Level::Pod, "spec") => Member::Nested(Level::Spec),
            (Level::Metadata, "managedFields") => Member::Text,
            (Level::Metadata, _) => Member::Parsed,
            (Level::Spec, "nodeSelector" | "affinity" | "tolerations") => Member::Parsed,
            (Level::Pod | Level::Spec, _) => Member::Text,
        }
    }
}

/// A value as parsed: a tree, a text, or an object holding both.
enum Node<'a> {
    /// Parsed whole.
    Value(Value),
    /// Kept as text.
    Text(&'a RawValue),
    /// An object parsed member by member.
    Object(IndexMap<String, Node<'a>>),
}

/// Parses one value at a level.
#[derive(Clone, Copy)]
struct NodeSeed<'c> {
    /// Where the value is.
    level: Level,
    /// Set when a member kept as text may hold what a full parse refuses.
    doubtful: &'c Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for NodeSeed<'_> {
    type Value = Node<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node<'de>, D::Error> {
        deserializer.deserialize_any(NodeVisitor(self))
    }
}

/// Builds a [`Node`]: member by member for an object, whole for anything
/// else, which the policy treats as a malformed payload anyway.
struct NodeVisitor<'c>(NodeSeed<'c>);

impl<'de> Visitor<'de> for NodeVisitor<'_> {
    type Value = Node<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, value: bool) -> Result<Node<'de>, E> {
        Ok(Node::Value(Value::Bool(value)))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Node<'de>, E> {
        Ok(Node::Value(Value::from(value)))
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Node<'de>, E> {
        Ok(Node::Value(Value::from(value)))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Node<'de>, E> {
        Ok(Node::Value(Value::from(value)))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<Node<'de>, E> {
        Ok(Node::Value(Value::String(value.to_owned())))
    }

    fn visit_string<E: de::Error>(self, value: String) -> Result<Node<'de>, E> {
        Ok(Node::Value(Value::String(value)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node<'de>, E> {
        Ok(Node::Value(Value::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Node<'de>, A::Error> {
        Value::deserialize(SeqAccessDeserializer::new(seq)).map(Node::Value)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node<'de>, A::Error> {
        let mut members = IndexMap::new();
        let Some(first) = map.next_key::<String>()? else {
            return Ok(Node::Object(members));
        };
        if first == NUMBER_KEY {
            let digits: String = map.next_value()?;
            let number = digits.parse::<Number>().map_err(de::Error::custom)?;
            return Ok(Node::Value(Value::Number(number)));
        }
        let NodeSeed { level, doubtful } = self.0;
        let mut key = Some(first);
        while let Some(name) = key {
            let node = match level.member(&name) {
                Member::Text => {
                    let text: &RawValue = map.next_value()?;
                    if nests_as_deep_as(text.get(), NESTING_LIMIT - level.enclosing())
                        || has_surrogate_escape(text.get())
                    {
                        doubtful.set(true);
                    }
                    Node::Text(text)
                }
                Member::Parsed => Node::Value(map.next_value()?),
                Member::Nested(level) => map.next_value_seed(NodeSeed { level, doubtful })?,
            };
            members.insert(name, node);
            key = map.next_key()?;
        }
        Ok(Node::Object(members))
    }
}

/// Whether the JSON `text` nests containers `limit` deep: as deep as
/// serde_json allows there, which a full parse then checks, or deeper.
fn nests_as_deep_as(text: &str, limit: usize) -> bool {
    let bytes = text.as_bytes();
    // Fewer brackets than the limit cannot nest that deep.
    if bytes.iter().filter(|&&b| b == b'[' || b == b'{').count() < limit {
        return false;
    }
    let (mut depth, mut in_string, mut escaped) = (0_usize, false, false);
    for &byte in bytes {
        match (in_string, byte) {
            (true, _) if escaped => escaped = false,
            (true, b'\\') => escaped = true,
            (_, b'"') => in_string = !in_string,
            (false, b'[' | b'{') => {
                depth += 1;
                if depth >= limit {
                    return true;
                }
            }
            (false, b']' | b'}') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// Whether the JSON `text` may hold a `\u` escape of a UTF-16 surrogate,
/// which a full parse refuses unless it is half of a pair. An escaped
/// backslash before `u` also counts: a doubt costs only a full parse.
fn has_surrogate_escape(text: &str) -> bool {
    text.contains("\\u")
        && text.as_bytes().windows(4).any(|window| {
            matches!(
                window,
                [
                    b'\\',
                    b'u',
                    b'd' | b'D',
                    b'8' | b'9' | b'a'..=b'f' | b'A'..=b'F',
                ]
            )
        })
}

/// Where the members kept as text belong in a parsed tree.
#[derive(Debug, Default)]
pub enum Shape<'a> {
    /// The tree holds this value whole.
    #[default]
    Parsed,
    /// The tree leaves this value out; this is its text.
    Text(&'a RawValue),
    /// An object whose members are in the tree or kept as text, in the
    /// order they came.
    Object(IndexMap<String, Shape<'a>>),
}

impl<'a> Shape<'a> {
    /// The shape of member `key` of an object.
    fn member(&self, key: &str) -> Option<&Shape<'a>> {
        match self {
            Shape::Object(members) => members.get(key),
            Shape::Parsed | Shape::Text(_) => None,
        }
    }
}

/// Separates a node into its shape and its tree; a member kept as text has
/// no tree.
fn split(node: Node<'_>) -> (Shape<'_>, Option<Value>) {
    match node {
        Node::Value(value) => (Shape::Parsed, Some(value)),
        Node::Text(text) => (Shape::Text(text), None),
        Node::Object(members) => {
            let mut shapes = IndexMap::with_capacity(members.len());
            let mut view = Map::new();
            for (key, member) in members {
                let (shape, value) = split(member);
                if let Some(value) = value {
                    view.insert(key.clone(), value);
                }
                shapes.insert(key, shape);
            }
            (Shape::Object(shapes), Some(Value::Object(view)))
        }
    }
}

/// A tree written out with the texts of its shape in place.
///
/// A member of the shape that the tree no longer has was removed and is
/// left out; a member of the tree the shape does not know was added and
/// comes last, as inserting it into the full tree would have put it.
pub struct Merged<'s, 'a> {
    /// Where the texts go.
    shape: &'s Shape<'a>,
    /// The tree, possibly changed since it was parsed.
    view: &'s Value,
}

impl<'s, 'a> Merged<'s, 'a> {
    /// `view` written out with the texts of `shape`.
    pub fn new(shape: &'s Shape<'a>, view: &'s Value) -> Self {
        Merged { shape, view }
    }
}

impl Serialize for Merged<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (Shape::Object(members), Value::Object(fields)) = (self.shape, self.view) else {
            return self.view.serialize(serializer);
        };
        let mut map = serializer.serialize_map(None)?;
        for (key, shape) in members {
            match (fields.get(key), shape) {
                (Some(view), shape) => map.serialize_entry(key, &Merged { shape, view })?,
                (None, Shape::Text(text)) => map.serialize_entry(key, text)?,
                (None, Shape::Parsed | Shape::Object(_)) => {}
            }
        }
        for (key, value) in fields {
            if !members.contains_key(key) {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A payload whose pod has a member of every kind.
    const PAYLOAD: &str = r#"{"request": {"uid": "u", "operation": "CREATE",
        "object": {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "labels": {"a": "1"}, "managedFields": [{"f": 1.50}]},
            "spec": {"containers": [{"name": "c", "image": "i", "x": 1e400}],
                     "nodeSelector": {"n": "v"}, "priority": 10},
            "status": {"phase": "Pending"}}},
        "settings": {"defaultSpotRatio": 0.5}}"#;

    #[test]
    fn the_view_holds_only_what_the_policy_reads() {
        let sparse = parse(PAYLOAD.as_bytes()).unwrap();
        assert_eq!(
            sparse.view,
            json!({"request": {"uid": "u", "operation": "CREATE",
                "object": {"kind": "Pod",
                    "metadata": {"name": "p", "labels": {"a": "1"}},
                    "spec": {"nodeSelector": {"n": "v"}}}},
                "settings": {"defaultSpotRatio": 0.5}})
        );
    }

    #[test]
    fn an_unchanged_view_writes_out_the_members_kept_as_text_verbatim() {
        let sparse = parse(PAYLOAD.as_bytes()).unwrap();
        let object = &sparse.view["request"]["object"];
        let text = serde_json::to_string(&Merged::new(sparse.object_shape(), object)).unwrap();
        assert_eq!(
            text,
            r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","labels":{"a":"1"},"managedFields":[{"f": 1.50}]},"spec":{"containers":[{"name": "c", "image": "i", "x": 1e400}],"nodeSelector":{"n":"v"},"priority":10},"status":{"phase": "Pending"}}"#
        );
    }

    #[test]
    fn changes_to_the_view_are_written_in_place_and_additions_come_last() {
        let sparse = parse(PAYLOAD.as_bytes()).unwrap();
        let mut object = sparse.view["request"]["object"].clone();
        object["spec"]["nodeSelector"]["n"] = json!("w");
        object["spec"]["tolerations"] = json!([]);
        object["metadata"].as_object_mut().unwrap().remove("labels");
        let text = serde_json::to_string(&Merged::new(sparse.object_shape(), &object)).unwrap();
        let written: Value = serde_json::from_str(&text).unwrap();
        let mut expected: Value = serde_json::from_str(PAYLOAD).unwrap();
        let expected = &mut expected["request"]["object"];
        expected["spec"]["nodeSelector"]["n"] = json!("w");
        expected["spec"]["tolerations"] = json!([]);
        expected["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("labels");
        assert_eq!(&written, expected);
        assert!(
            text.ends_with(r#""priority":10,"tolerations":[]},"status":{"phase": "Pending"}}"#)
        );
    }

    #[test]
    fn a_repeated_key_keeps_its_first_place_and_its_last_value() {
        let payload = r#"{"request": {"object": {"spec": {"a": 1, "nodeSelector": {}, "a": 2}}}}"#;
        let sparse = parse(payload.as_bytes()).unwrap();
        let object = &sparse.view["request"]["object"];
        let text = serde_json::to_string(&Merged::new(sparse.object_shape(), object)).unwrap();
        assert_eq!(text, r#"{"spec":{"a":2,"nodeSelector":{}}}"#);
    }

    #[test]
    fn values_that_are_not_objects_are_parsed_whole_at_every_level() {
        for payload in [
            r#"7"#,
            r#"{"request": 12345678901234567890123}"#,
            r#"{"request": {"object": [1, {"a": 2}]}}"#,
            r#"{"request": {"object": {"metadata": "m", "spec": 0.10}}}"#,
            r#"{"request": {"object": {"spec": null}}}"#,
        ] {
            let sparse = parse(payload.as_bytes()).unwrap();
            let full: Value = serde_json::from_str(payload).unwrap();
            assert_eq!(sparse.view, full, "{payload}");
        }
    }

    /// A payload whose spec's `containers` nests `depth` lists deep.
    fn nested_containers(depth: usize) -> String {
        format!(
            r#"{{"request": {{"object": {{"spec": {{"containers": {}"x"{}}}}}}}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        )
    }

    #[test]
    fn errors_are_those_of_a_full_parse() {
        let limit = NESTING_LIMIT - Level::Spec.enclosing();
        let (deepest, too_deep) = (nested_containers(limit), nested_containers(limit + 1));
        let containers = |value: &str| {
            format!(r#"{{"request": {{"object": {{"spec": {{"containers": [{value}]}}}}}}}}"#)
        };
        let (lone_high, lone_low, pair, control) = (
            containers(r#""\ud800x""#),
            containers(r#""\udc00""#),
            containers(r#""\ud83d\ude00""#),
            containers("\"a\u{1}\""),
        );
        for payload in [
            r#"{"request": {"object": {"spec": {"a": }}}}"#,
            "{} x",
            "",
            "[1,",
            &deepest,
            &too_deep,
            &lone_high,
            &lone_low,
            &pair,
            &control,
        ] {
            let sparse = parse(payload.as_bytes()).err().map(|e| e.to_string());
            let full = serde_json::from_str::<Value>(payload)
                .err()
                .map(|e| e.to_string());
            assert_eq!(sparse, full, "{payload}");
        }
    }

    #[test]
    fn nesting_is_measured_outside_strings() {
        assert!(nests_as_deep_as("[[[]]]", 3));
        assert!(!nests_as_deep_as("[[[]]]", 4));
        assert!(!nests_as_deep_as(r#"["[[[[", {"a": "\\"}, "\"[[["]"#, 3));
        assert!(nests_as_deep_as(r#"[{"a": "]]\"]"}, [[1]]]"#, 3));
    }

    #[test]
    fn the_deepest_member_a_full_parse_allows_is_kept() {
        let limit = NESTING_LIMIT - Level::Spec.enclosing();
        let payload = nested_containers(limit);
        assert!(serde_json::from_str::<Value>(&payload).is_ok());
        assert!(parse(payload.as_bytes()).is_ok());
        assert!(parse(nested_containers(limit + 1).as_bytes()).is_err());
    }
}
