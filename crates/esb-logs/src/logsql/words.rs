//! LogsQL's words: runs of letters, digits and `_`, everything else delimiting them.
//! The lexer, the matcher, the store's word index and the filters' word requirements all
//! split text the same way, so they share these rules.

/// The words of `text`, as LogsQL delimits them (runs of letters, digits and `_`), with
/// their byte offsets.
pub fn words(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut rest = text.char_indices().peekable();
    std::iter::from_fn(move || {
        while rest.peek().is_some_and(|&(_, c)| !is_token_char(c)) {
            rest.next();
        }
        let &(start, _) = rest.peek()?;
        let mut end = text.len();
        while let Some(&(i, c)) = rest.peek() {
            if !is_token_char(c) {
                end = i;
                break;
            }
            rest.next();
        }
        Some((start, &text[start..end]))
    })
}

/// VictoriaLogs' word characters: everything else delimits words.
pub(super) fn is_token_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

pub(super) fn is_word(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_token_char)
}
