//! What every record a filter matches must have (a `_time` range, stream labels, words)
//! and which parts of a record matching reads: what the store uses to narrow down the
//! records it reads before [`Filter::matches`] decides.

use super::ast::{Filter, LabelOp, StreamSelector, canon};
use super::words::words;

impl Filter {
    /// The `_time` range the filter implies (for the store to use its time index):
    /// (start inclusive, end exclusive), None = unbounded. Correct for AND (intersection),
    /// OR (the bounds of the union) and NOT (unbounded: a negation can match any time).
    pub fn time_bounds(&self) -> (Option<i64>, Option<i64>) {
        match self {
            Filter::Time { start, end } => (*start, *end),
            Filter::And(fs) => {
                let mut bounds = (None, None);
                for f in fs {
                    let (s, e) = f.time_bounds();
                    bounds.0 = max_opt(bounds.0, s);
                    bounds.1 = min_opt(bounds.1, e);
                }
                bounds
            }
            Filter::Or(fs) => {
                let mut iter = fs.iter().map(Filter::time_bounds);
                let Some(mut bounds) = iter.next() else {
                    return (None, None);
                };
                for (s, e) in iter {
                    bounds.0 = bounds.0.zip(s).map(|(a, b)| a.min(b));
                    bounds.1 = bounds.1.zip(e).map(|(a, b)| a.max(b));
                }
                bounds
            }
            _ => (None, None),
        }
    }

    /// Stream label equalities every match must have (for the store to narrow by stream):
    /// from `_stream:{a="b"}` in a top-level AND only (a selector with `or`, or under
    /// `OR`/`NOT`, promises nothing). Sorted, without duplicates, empty values left out
    /// (`{a=""}` also matches streams without `a`).
    pub fn required_stream(&self) -> Vec<(String, String)> {
        let parts = match self {
            Filter::And(fs) => fs.as_slice(),
            other => std::slice::from_ref(other),
        };
        let mut out = Vec::new();
        for part in parts {
            if let Filter::Stream(sel) = part
                && let [group] = sel.any_of.as_slice()
            {
                for m in group {
                    if let LabelOp::Eq(v) = &m.op
                        && !v.is_empty()
                    {
                        out.push((m.label.clone(), v.clone()));
                    }
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// Words a record must contain for the filter to match, for a word index to narrow
    /// the records down before [`Filter::matches`] decides (`None`: no word is required,
    /// every record is a candidate). Only what every match must have: the whole words of
    /// phrases, exact values and prefixes in AND (an `OR` requires something only if all
    /// its branches do; `NOT`, regexes, comparisons, `_time` and `_stream` require
    /// nothing). A word's case is as written; see [`Required::Word`].
    pub fn required_words(&self) -> Option<Required> {
        match self {
            Filter::And(fs) => Required::all(fs.iter().filter_map(Filter::required_words)),
            Filter::Or(fs) => Required::any(fs.iter().map(Filter::required_words)),
            // Each word of a phrase is whole in the value: word boundaries are checked
            // at both ends of the phrase, and inside it the words are delimited already.
            Filter::Phrase { field, phrase } | Filter::AnyCasePhrase { field, phrase } => {
                words_required(field, phrase, true, true)
            }
            Filter::Exact { field, value } => words_required(field, value, true, true),
            // The last word of a prefix may go on in the value.
            Filter::Prefix { field, prefix } | Filter::AnyCasePrefix { field, prefix } => {
                words_required(field, prefix, true, false)
            }
            Filter::ExactPrefix { field, prefix } => words_required(field, prefix, true, false),
            // A substring may start and end inside words.
            Filter::Substring { field, substring } => {
                words_required(field, substring, false, false)
            }
            Filter::In { field, values } => {
                Required::any(values.iter().map(|v| words_required(field, v, true, true)))
            }
            _ => None,
        }
    }

    /// Whether matching may read a field other than `_msg`, `_time` and `_stream` (a
    /// stream label or a field): if not, [`Filter::matches`] gives the same answer on a
    /// record whose `fields` are left empty.
    pub fn reads_fields(&self) -> bool {
        match self {
            Filter::All | Filter::Time { .. } | Filter::Stream(_) => false,
            Filter::And(fs) | Filter::Or(fs) => fs.iter().any(Filter::reads_fields),
            Filter::Not(f) => f.reads_fields(),
            Filter::Phrase { field, .. }
            | Filter::Prefix { field, .. }
            | Filter::AnyCasePhrase { field, .. }
            | Filter::AnyCasePrefix { field, .. }
            | Filter::Substring { field, .. }
            | Filter::Exact { field, .. }
            | Filter::ExactPrefix { field, .. }
            | Filter::In { field, .. }
            | Filter::Regex { field, .. }
            | Filter::Range { field, .. }
            | Filter::StringRange { field, .. } => {
                !matches!(field.as_str(), "_msg" | "" | "_time" | "_stream")
            }
        }
    }

    /// The stream selectors every match must satisfy: the `_stream:{…}` filters of a
    /// top-level AND (for the store to pick the streams to read).
    pub fn required_stream_selectors(&self) -> Vec<&StreamSelector> {
        let parts = match self {
            Filter::And(fs) => fs.as_slice(),
            other => std::slice::from_ref(other),
        };
        parts
            .iter()
            .filter_map(|f| match f {
                Filter::Stream(sel) => Some(sel),
                _ => None,
            })
            .collect()
    }
}

/// What [`Filter::required_words`] finds: words a record must contain to match.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Required {
    /// `field` (`_msg`, a stream label or a field) has the word: some word of its value,
    /// or of its lowercased value (`str::to_lowercase`), lowercases to
    /// `word.to_lowercase()`. A word is a run of letters, digits and `_`, as [`words`]
    /// splits them. (Case folded so that `i(…)` filters can use the same index.)
    Word { field: String, word: String },
    /// Every one.
    All(Vec<Required>),
    /// At least one.
    Any(Vec<Required>),
}

impl Required {
    /// Every one of `parts` (nested `All` flattened); `None` if there is none.
    fn all(parts: impl IntoIterator<Item = Required>) -> Option<Required> {
        let mut out = Vec::new();
        for p in parts {
            match p {
                Required::All(inner) => out.extend(inner),
                other => out.push(other),
            }
        }
        match out.len() {
            0 => None,
            1 => out.pop(),
            _ => Some(Required::All(out)),
        }
    }

    /// At least one of `parts`; `None` if there is none or one of them requires nothing.
    fn any(parts: impl IntoIterator<Item = Option<Required>>) -> Option<Required> {
        let mut out = Vec::new();
        for p in parts {
            match p? {
                Required::Any(inner) => out.extend(inner),
                other => out.push(other),
            }
        }
        match out.len() {
            0 => None,
            1 => out.pop(),
            _ => Some(Required::Any(out)),
        }
    }
}

/// The words of `text` that are whole words of `field`'s value whenever the value holds
/// `text` (a word at the start of `text` only if `whole_start`, at its end only if
/// `whole_end`: a substring or a prefix may begin or end inside a word).
fn words_required(field: &str, text: &str, whole_start: bool, whole_end: bool) -> Option<Required> {
    if matches!(field, "_time" | "_stream") {
        return None;
    }
    Required::all(
        words(text)
            .filter(|&(start, word)| {
                (whole_start || start > 0) && (whole_end || start + word.len() < text.len())
            })
            .map(|(_, word)| Required::Word {
                field: canon(field),
                word: word.to_string(),
            }),
    )
}

fn max_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.max(y)),
        (x, None) | (None, x) => x,
    }
}

fn min_opt(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(x), Some(y)) => Some(x.min(y)),
        (x, None) | (None, x) => x,
    }
}
