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
//! its last value, numbers exact.

use indexmap::IndexMap;
use serde::de::value::SeqAccessDeserializer;
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use serde_json::{Map, Number, Value};
use std::fmt;

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
    let mut deserializer = serde_json::Deserializer::from_slice(payload);
    let node = NodeSeed(Level::Payload).deserialize(&mut deserializer)?;
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
struct NodeSeed(Level);

impl<'de> DeserializeSeed<'de> for NodeSeed {
    type Value = Node<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node<'de>, D::Error> {
        deserializer.deserialize_any(NodeVisitor(self.0))
    }
}

/// Builds a [`Node`]: member by member for an object, whole for anything
/// else, which the policy treats as a malformed payload anyway.
struct NodeVisitor(Level);

impl<'de> Visitor<'de> for NodeVisitor {
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
        let mut key = Some(first);
        while let Some(name) = key {
            let node = match self.0.member(&name) {
                Member::Text => Node::Text(map.next_value()?),
                Member::Parsed => Node::Value(map.next_value()?),
                Member::Nested(level) => map.next_value_seed(NodeSeed(level))?,
            };
            members.insert(name, node);
            key = map.next_key()?;
        }
        Ok(Node::Object(members))
    }
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

    #[test]
    fn errors_are_those_of_a_full_parse() {
        for payload in [
            r#"{"request": {"object": {"spec": {"a": }}}}"#,
            "{} x",
            "",
            "[1,",
        ] {
            let sparse = parse(payload.as_bytes()).err().map(|e| e.to_string());
            let full = serde_json::from_str::<Value>(payload)
                .err()
                .map(|e| e.to_string());
            assert_eq!(sparse, full, "{payload}");
        }
    }
}
