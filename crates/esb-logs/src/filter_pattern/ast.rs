//! A parsed filter pattern: what the parser builds and the matcher reads. Parsing once
//! into these types keeps matching free of syntax questions (and of errors).

use regex::Regex;

/// The three kinds of pattern AWS tells apart by their first character, plus the
/// pattern that matches everything (an empty one).
#[derive(Debug, Clone)]
pub(super) enum Pattern {
    /// `""` or only whitespace.
    Everything,
    /// Words and phrases that must, may or must not appear (`ERROR -Exiting`).
    Terms(Terms),
    /// A whole pattern that is one regular expression (`%AUTHORIZED%`).
    Regex(Regex),
    /// `{ … }`: conditions on the fields of a JSON message.
    Json(JsonExpr),
    /// `[ … ]`: conditions on the space-delimited fields of a message.
    Delimited(Delimited),
}

/// An unstructured pattern, already reduced to AWS's rule for mixing `?` terms with
/// others: `?` terms form an OR only when every term has a `?`; otherwise the `?` is
/// ignored and they are required like the rest.
#[derive(Debug, Clone, Default)]
pub(super) struct Terms {
    /// Each must appear in the message.
    pub(super) required: Vec<String>,
    /// None may appear.
    pub(super) excluded: Vec<String>,
    /// At least one must appear, unless the list is empty.
    pub(super) any_of: Vec<String>,
}

/// A JSON condition: `&&` and `||` over tests, grouped by parentheses.
#[derive(Debug, Clone)]
pub(super) enum JsonExpr {
    /// `a || b || …`
    Any(Vec<JsonExpr>),
    /// `a && b && …`
    All(Vec<JsonExpr>),
    /// One test on the value(s) a selector points to.
    Test(Selector, JsonCheck),
}

/// What a JSON test asks of the selected value.
#[derive(Debug, Clone)]
pub(super) enum JsonCheck {
    Compare(Comparison),
    IsTrue,
    IsFalse,
    IsNull,
    NotExists,
}

/// A property selector such as `$.users[0].email` or `$.arrayKey[*]`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Selector {
    pub(super) steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq)]
pub(super) enum Step {
    /// `.name`
    Key(String),
    /// `.*`: every field of an object.
    AnyKey,
    /// `[3]`
    Index(usize),
    /// `[*]`: every element of an array.
    AnyIndex,
}

impl Selector {
    /// How many `*` steps the selector has (AWS limits them).
    pub(super) fn wildcards(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| matches!(s, Step::AnyKey | Step::AnyIndex))
            .count()
    }
}

/// `= != < <= > >=`
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CompareOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl CompareOp {
    /// `<`, `<=`, `>`, `>=` only make sense with a number on the right.
    pub(super) fn is_ordering(self) -> bool {
        matches!(
            self,
            CompareOp::Lt | CompareOp::Le | CompareOp::Gt | CompareOp::Ge
        )
    }
}

/// An operator and the value on its right, as JSON and space-delimited patterns share it.
#[derive(Debug, Clone)]
pub(super) struct Comparison {
    pub(super) op: CompareOp,
    pub(super) value: Value,
}

/// The right-hand side of a comparison.
#[derive(Debug, Clone)]
pub(super) enum Value {
    /// `*` alone: any value at all.
    Anything,
    /// A string, with `*` wildcards at its ends.
    Text(Glob),
    /// A number as AWS writes them; compared numerically with values that are numbers.
    Number(f64),
    /// `%regex%`
    Regex(Regex),
}

/// A string value: `*Event` ends with, `Event*` starts with, `*Event*` contains
/// `Event`. A `*` anywhere else is a plain character (AWS: `Ev*ent` matches only the
/// string `Ev*ent`).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Glob {
    pub(super) text: String,
    pub(super) any_prefix: bool,
    pub(super) any_suffix: bool,
}

/// A space-delimited pattern: slots matched against the message's fields in order. With
/// an ellipsis (`...`), `head` matches the first fields and `tail` the last ones, and
/// any number of fields may lie between; without one the counts must be equal.
#[derive(Debug, Clone)]
pub(super) struct Delimited {
    pub(super) head: Vec<Slot>,
    pub(super) tail: Option<Vec<Slot>>,
}

/// One field of a space-delimited pattern: a name (`status_code`), a name with
/// conditions (`status_code = 4* && status_code != 403`), or nothing (`[a,,b]`).
#[derive(Debug, Clone)]
pub(super) struct Slot {
    pub(super) condition: Option<FieldCondition>,
}

/// Conditions on one space-delimited field: `&&` binds tighter than `||`.
#[derive(Debug, Clone)]
pub(super) enum FieldCondition {
    Any(Vec<FieldCondition>),
    All(Vec<FieldCondition>),
    Compare(Comparison),
}
