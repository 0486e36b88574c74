//! What the front reads of a request body: the few fields it checks, wherever the
//! engine reads them (the top level, `TransactItems[].{Put,Update,Delete,
//! ConditionCheck,Get}`, `RequestItems.<table>`), and nothing else.
//!
//! Why a reader of its own rather than `serde_json::Value` or derived structs:
//! - cost: an item or a key is skipped by serde's `IgnoredAny` (a scan, no allocation);
//! - leniency: a field of an unexpected type is skipped, never an error, so no shape of
//!   an unrelated field can make the reader give up and let an expression it should
//!   have guarded through to the engine. Only a body that is not JSON fails, and the
//!   engine refuses that before reading anything in it;
//! - bounded depth: the reader descends only along the fixed shape below (six levels at
//!   most); whatever lies under a skipped field is skipped by serde_json's iterative
//!   skipper, however deep it nests.
//!
//! A field given twice is read every time (the engine may keep either).

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::expression::{Placeholder, Placeholders};

/// The expression fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Field {
    KeyCondition,
    Filter,
    Condition,
    Projection,
    Update,
    /// The engine's SearchVectors filter (not a DynamoDB field).
    SearchCondition,
}

impl Field {
    /// The field's name, as the request and DynamoDB's messages spell it.
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::KeyCondition => "KeyConditionExpression",
            Self::Filter => "FilterExpression",
            Self::Condition => "ConditionExpression",
            Self::Projection => "ProjectionExpression",
            Self::Update => "UpdateExpression",
            Self::SearchCondition => "SearchConditionExpression",
        }
    }
}

/// Where a set of expression fields sits, which says which of them the engine reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Container {
    /// PutItem, or a transaction's Put.
    Put,
    /// UpdateItem, or a transaction's Update.
    Update,
    /// DeleteItem, or a transaction's Delete.
    Delete,
    /// A transaction's ConditionCheck.
    ConditionCheck,
    /// GetItem, a transaction's Get, or a BatchGetItem table.
    Get,
    Query,
    Scan,
    /// The engine's SearchVectors.
    Search,
}

impl Container {
    /// Whether the engine reads `field` here (it reads no other).
    pub(super) fn reads(self, field: Field) -> bool {
        use Field as F;
        match self {
            Self::Put | Self::Delete | Self::ConditionCheck => field == F::Condition,
            Self::Update => matches!(field, F::Condition | F::Update),
            Self::Get => field == F::Projection,
            Self::Query => matches!(field, F::KeyCondition | F::Filter | F::Projection),
            Self::Scan => matches!(field, F::Filter | F::Projection),
            Self::Search => field == F::SearchCondition,
        }
    }
}

/// One set of expressions and the placeholders they share.
#[derive(Debug, Default)]
pub(super) struct Action {
    /// Every expression field met, in the order written, duplicates included.
    pub expressions: Vec<(Field, String)>,
    pub placeholders: Placeholders,
}

/// What the front reads of a request.
#[derive(Debug, Default)]
pub(super) struct Request {
    /// The top level's expressions.
    pub top: Action,
    /// `TransactItems[].<kind>` and `RequestItems.<table>`, in order.
    pub nested: Vec<(Container, Action)>,
    /// Every integer `Limit`.
    pub limits: Vec<i128>,
    /// One entry per element of `Tags`: its `Key`, when that is a string.
    pub tags: Vec<Option<String>>,
}

impl Request {
    /// Reads `body`; `None` when it is not JSON.
    pub(super) fn read(body: &str) -> Option<Self> {
        let mut request = Self::default();
        let mut de = serde_json::Deserializer::from_str(body);
        Seed(&mut request).deserialize(&mut de).ok()?;
        de.end().ok()?;
        Some(request)
    }
}

// ---------------------------------------------------------------------------------
// The reader: each node of the shape takes what it expects and skips the rest
// ---------------------------------------------------------------------------------

/// A place in the request's shape. Each method takes one JSON form; the defaults skip
/// it, so a value of an unexpected type is never an error.
trait Node {
    fn map<'de, A: MapAccess<'de>>(&mut self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn seq<'de, A: SeqAccess<'de>>(&mut self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn text(&mut self, _text: &str) {}

    fn integer(&mut self, _n: i128) {}
}

/// Reads one JSON value into a node.
struct Seed<'n, N>(&'n mut N);

impl<'de, N: Node> DeserializeSeed<'de> for Seed<'_, N> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(NodeVisitor(self.0))
    }
}

struct NodeVisitor<'n, N>(&'n mut N);

impl<'de, N: Node> Visitor<'de> for NodeVisitor<'_, N> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, n: i64) -> Result<(), E> {
        self.0.integer(n.into());
        Ok(())
    }

    fn visit_u64<E>(self, n: u64) -> Result<(), E> {
        self.0.integer(n.into());
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_str<E>(self, text: &str) -> Result<(), E> {
        self.0.text(text);
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        self.0.seq(seq)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        self.0.map(map)
    }
}

/// The keys the reader knows, at any level (each node acts on its own and skips the
/// others' values).
enum Key {
    Expression(Field),
    Names,
    Values,
    TransactItems,
    RequestItems,
    Limit,
    Tags,
    /// A tag's `Key`.
    TagName,
    /// `Put`, `Update`, `Delete`, `ConditionCheck`, `Get` in a transaction item.
    Container(Container),
    Other,
}

impl<'de> de::Deserialize<'de> for Key {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E>(self, key: &str) -> Result<Key, E> {
                use Field as F;
                Ok(match key {
                    "KeyConditionExpression" => Key::Expression(F::KeyCondition),
                    "FilterExpression" => Key::Expression(F::Filter),
                    "ConditionExpression" => Key::Expression(F::Condition),
                    "ProjectionExpression" => Key::Expression(F::Projection),
                    "UpdateExpression" => Key::Expression(F::Update),
                    "SearchConditionExpression" => Key::Expression(F::SearchCondition),
                    "ExpressionAttributeNames" => Key::Names,
                    "ExpressionAttributeValues" => Key::Values,
                    "TransactItems" => Key::TransactItems,
                    "RequestItems" => Key::RequestItems,
                    "Limit" => Key::Limit,
                    "Tags" => Key::Tags,
                    "Key" => Key::TagName,
                    "Put" => Key::Container(Container::Put),
                    "Update" => Key::Container(Container::Update),
                    "Delete" => Key::Container(Container::Delete),
                    "ConditionCheck" => Key::Container(Container::ConditionCheck),
                    "Get" => Key::Container(Container::Get),
                    _ => Key::Other,
                })
            }
        }
        deserializer.deserialize_identifier(KeyVisitor)
    }
}

/// A string, if the value is one.
#[derive(Default)]
struct Text(Option<String>);

impl Node for Text {
    fn text(&mut self, text: &str) {
        self.0 = Some(text.to_string());
    }
}

/// An integer, if the value is one.
#[derive(Default)]
struct Integer(Option<i128>);

impl Node for Integer {
    fn integer(&mut self, n: i128) {
        self.0 = Some(n);
    }
}

/// Reads the value of the entry `map` is at into a fresh `N`.
fn value<'de, A: MapAccess<'de>, N: Node + Default>(map: &mut A) -> Result<N, A::Error> {
    let mut node = N::default();
    map.next_value_seed(Seed(&mut node))?;
    Ok(node)
}

impl Node for Request {
    fn map<'de, A: MapAccess<'de>>(&mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Expression(_) | Key::Names | Key::Values => {
                    self.top.entry(key, &mut map)?;
                }
                Key::TransactItems => {
                    map.next_value_seed(Seed(&mut TransactItems(&mut self.nested)))?;
                }
                Key::RequestItems => {
                    map.next_value_seed(Seed(&mut RequestItems(&mut self.nested)))?;
                }
                Key::Limit => self.limits.extend(value::<A, Integer>(&mut map)?.0),
                Key::Tags => map.next_value_seed(Seed(&mut Tags(&mut self.tags)))?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

impl Action {
    /// Reads the value of an entry whose key is `key`.
    fn entry<'de, A: MapAccess<'de>>(&mut self, key: Key, map: &mut A) -> Result<(), A::Error> {
        match key {
            Key::Expression(field) => {
                if let Some(text) = value::<A, Text>(map)?.0 {
                    self.expressions.push((field, text));
                }
            }
            Key::Names => map.next_value_seed(Seed(&mut Names(&mut self.placeholders)))?,
            Key::Values => map.next_value_seed(Seed(&mut Values(&mut self.placeholders)))?,
            _ => {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

impl Node for Action {
    fn map<'de, A: MapAccess<'de>>(&mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Key>()? {
            self.entry(key, &mut map)?;
        }
        Ok(())
    }
}

/// `ExpressionAttributeNames`: the names that are strings.
struct Names<'p>(&'p mut Placeholders);

impl Node for Names<'_> {
    fn map<'de, A: MapAccess<'de>>(&mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(name) = map.next_key::<String>()? {
            if let Some(text) = value::<A, Text>(&mut map)?.0 {
                self.0.names.insert(name, text);
            }
        }
        Ok(())
    }
}

/// `ExpressionAttributeValues`: every placeholder, with its string when it is an `S`.
struct Values<'p>(&'p mut Placeholders);

impl Node for Values<'_> {
    fn map<'de, A: MapAccess<'de>>(&mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(name) = map.next_key::<String>()? {
            let value = value::<A, AttributeValue>(&mut map)?;
            let placeholder = match value {
                AttributeValue {
                    members: 1,
                    s: Some(s),
                } => Placeholder::S(s),
                _ => Placeholder::Other,
            };
            self.0.values.insert(name, placeholder);
        }
        Ok(())
    }
}

/// An attribute value: how many type members it has, and its `S` if that is a string.
#[derive(Default)]
struct AttributeValue {
    members: usize,
    s: Option<String>,
}

impl Node for AttributeValue {
    fn map<'de, A: MapAccess<'de>>(&mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(member) = map.next_key::<String>()? {
            self.members = self.members.saturating_add(1);
            if member == "S" {
                self.s = value::<A, Text>(&mut map)?.0;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// `TransactItems`: each item's Put, Update, Delete, ConditionCheck or Get.
struct TransactItems<'r>(&'r mut Vec<(Container, Action)>);

impl Node for TransactItems<'_> {
    fn seq<'de, A: SeqAccess<'de>>(&mut self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(Seed(&mut TransactItem(self.0)))?
            .is_some()
        {}
        Ok(())
    }
}

struct TransactItem<'r>(&'r mut Vec<(Container, Action)>);

impl Node for TransactItem<'_> {
    fn map<'de, A: MapAccess<'de>>(&mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Key>()? {
            if let Key::Container(container) = key {
                let action = value::<A, Action>(&mut map)?;
                self.0.push((container, action));
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// BatchGetItem's `RequestItems`: each table's keys and projection.
struct RequestItems<'r>(&'r mut Vec<(Container, Action)>);

impl Node for RequestItems<'_> {
    fn map<'de, A: MapAccess<'de>>(&mut self, mut map: A) -> Result<(), A::Error> {
        while map.next_key::<IgnoredAny>()?.is_some() {
            let action = value::<A, Action>(&mut map)?;
            self.0.push((Container::Get, action));
        }
        Ok(())
    }
}

/// `Tags`: one entry per element, with its `Key` when that is a string.
struct Tags<'r>(&'r mut Vec<Option<String>>);

impl Node for Tags<'_> {
    fn seq<'de, A: SeqAccess<'de>>(&mut self, mut seq: A) -> Result<(), A::Error> {
        loop {
            let mut tag = Tag::default();
            if seq.next_element_seed(Seed(&mut tag))?.is_none() {
                return Ok(());
            }
            self.0.push(tag.0);
        }
    }
}

#[derive(Default)]
struct Tag(Option<String>);

impl Node for Tag {
    fn map<'de, A: MapAccess<'de>>(&mut self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<Key>()? {
            if matches!(key, Key::TagName) {
                self.0 = value::<A, Text>(&mut map)?.0;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}
