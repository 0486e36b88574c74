//! No input makes the loader panic: every fixture, cut short at every character,
//! with each line removed, and with characters swapped for YAML's special ones, either
//! loads or fails with an error.

mod common;

use std::path::Path;

use common::fixture;
use esb_template::LoadOptions;

fn fixtures() -> Vec<(std::path::PathBuf, String)> {
    let mut out = Vec::new();
    for dir in ["valid", "errors"] {
        let mut paths: Vec<_> = std::fs::read_dir(fixture(dir))
            .expect("fixtures")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        paths.sort();
        for p in paths {
            let text = std::fs::read_to_string(&p).expect("fixture text");
            out.push((p, text));
        }
    }
    out
}

fn try_load(source: &str, path: &Path) {
    let opts = LoadOptions::default();
    let outcome = std::panic::catch_unwind(|| esb_template::load_str(source, path, &opts));
    assert!(outcome.is_ok(), "panicked on:\n{source}");
}

#[test]
fn truncated_templates_never_panic() {
    for (path, text) in fixtures() {
        for (i, _) in text.char_indices() {
            try_load(&text[..i], &path);
        }
    }
}

#[test]
fn templates_missing_a_line_never_panic() {
    for (path, text) in fixtures() {
        let lines: Vec<&str> = text.lines().collect();
        for skip in 0..lines.len() {
            let mutated: Vec<&str> = lines
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != skip)
                .map(|(_, l)| *l)
                .collect();
            try_load(&mutated.join("\n"), &path);
        }
    }
}

#[test]
fn templates_with_special_characters_never_panic() {
    const SPECIAL: [char; 12] = ['!', '&', '*', '{', '}', '[', ']', ':', '-', '$', '"', '\t'];
    // A fixed pseudo-random sequence: reproducible, and no dependency for it.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for (path, text) in fixtures() {
        let chars: Vec<char> = text.chars().collect();
        for _ in 0..200 {
            let mut mutated = chars.clone();
            for _ in 0..3 {
                let at = (next() % mutated.len() as u64) as usize;
                mutated[at] = SPECIAL[(next() % SPECIAL.len() as u64) as usize];
            }
            try_load(&mutated.iter().collect::<String>(), &path);
        }
    }
}
