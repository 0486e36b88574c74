//! The architecture's invariants, checked on the source itself (the way rust-analyzer
//! keeps its own): which crate may depend on which, every dependency declared once in
//! the workspace, and no module cycles inside a crate. ARCHITECTURE.md states the
//! rules; this file is where they cannot silently rot.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use syn::visit::Visit;

use crate::support::repo_root;

/// The ESB crates each crate may depend on (normal dependencies). A new crate must be
/// added here, and to ARCHITECTURE.md's crate graph, before it builds.
const ALLOWED: &[(&str, &[&str])] = &[
    ("esb-lambda", &[]),
    ("esb-auth", &[]),
    ("esb-state", &[]),
    ("esb-nodes", &["esb-state"]),
    ("esb-proto", &[]),
    ("esb-template", &[]),
    ("esb-logs", &[]),
    ("esb-docker", &[]),
    ("esb-rie", &["esb-lambda", "esb-logs"]),
    ("esb-listener", &[]),
    ("esb-test-ports", &[]),
    ("esb-s3", &["esb-auth", "esb-listener"]),
    ("esb-dynamodb", &["esb-auth", "esb-lambda", "esb-listener"]),
    ("esb-sqs", &["esb-auth", "esb-lambda", "esb-listener"]),
    ("esb-schedule", &["esb-template"]),
    (
        "esb-cloudwatch-logs",
        &["esb-auth", "esb-listener", "esb-logs"],
    ),
    (
        "esb-agent",
        &[
            "esb-docker",
            "esb-lambda",
            "esb-logs",
            "esb-proto",
            "esb-rie",
            "esb-state",
        ],
    ),
    (
        "esb-gateway",
        &[
            "esb-auth",
            "esb-lambda",
            "esb-listener",
            "esb-logs",
            "esb-proto",
            "esb-state",
        ],
    ),
    (
        "esb-cli",
        &[
            "esb-agent",
            "esb-auth",
            "esb-cloudwatch-logs",
            "esb-docker",
            "esb-dynamodb",
            "esb-gateway",
            "esb-lambda",
            "esb-listener",
            "esb-logs",
            "esb-nodes",
            "esb-proto",
            "esb-rie",
            "esb-s3",
            "esb-schedule",
            "esb-sqs",
            "esb-state",
            "esb-template",
        ],
    ),
];

fn crates() -> Vec<(String, PathBuf)> {
    let dir = repo_root().join("crates");
    let mut out: Vec<(String, PathBuf)> = std::fs::read_dir(&dir)
        .expect("crates/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .map(|p| {
            let name = p.file_name().expect("name").to_string_lossy().into_owned();
            (name, p)
        })
        .collect();
    out.sort();
    out
}

fn manifest(dir: &Path) -> toml::Table {
    let text = std::fs::read_to_string(dir.join("Cargo.toml")).expect("Cargo.toml");
    text.parse().expect("Cargo.toml parses")
}

#[test]
fn crates_depend_only_on_what_the_crate_graph_allows() {
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut wrong = Vec::new();
    for (name, dir) in crates() {
        let Some(permitted) = allowed.get(name.as_str()) else {
            wrong.push(format!(
                "{name}: not in the crate graph (ALLOWED here, ARCHITECTURE.md)"
            ));
            continue;
        };
        let deps = manifest(&dir)
            .get("dependencies")
            .and_then(|d| d.as_table())
            .map(|d| d.keys().cloned().collect::<Vec<_>>())
            .unwrap_or_default();
        for dep in deps.iter().filter(|d| d.starts_with("esb-")) {
            if !permitted.contains(&dep.as_str()) {
                wrong.push(format!("{name} depends on {dep}"));
            }
        }
    }
    assert!(wrong.is_empty(), "crate graph broken: {wrong:#?}");
}

#[test]
fn every_dependency_is_declared_once_in_the_workspace() {
    let mut wrong = Vec::new();
    for (name, dir) in crates() {
        let m = manifest(&dir);
        for section in ["dependencies", "dev-dependencies", "build-dependencies"] {
            let Some(deps) = m.get(section).and_then(|d| d.as_table()) else {
                continue;
            };
            for (dep, spec) in deps {
                let inherited = spec
                    .as_table()
                    .and_then(|t| t.get("workspace"))
                    .and_then(|w| w.as_bool())
                    == Some(true);
                if !inherited {
                    wrong.push(format!("{name} [{section}] {dep}"));
                }
            }
        }
        let lints = m.get("lints").and_then(|l| l.as_table());
        if lints
            .and_then(|l| l.get("workspace"))
            .and_then(|w| w.as_bool())
            != Some(true)
        {
            wrong.push(format!("{name}: [lints] workspace = true missing"));
        }
    }
    assert!(
        wrong.is_empty(),
        "declare these in [workspace.dependencies] and use `x.workspace = true`: {wrong:#?}"
    );
}

/// A crate's modules, one per file: `a/b.rs` and `a/b/mod.rs` are `["a", "b"]`.
fn modules(src: &Path) -> BTreeMap<Vec<String>, PathBuf> {
    fn walk(dir: &Path, src: &Path, out: &mut BTreeMap<Vec<String>, PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("src dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                walk(&path, src, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path
                    .strip_prefix(src)
                    .expect("under src")
                    .with_extension("");
                let mut parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                if parts == ["lib"] || parts == ["main"] || parts.last().is_some_and(|l| l == "mod")
                {
                    parts.pop();
                }
                out.insert(parts, path);
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(src, src, &mut out);
    out
}

/// The `crate::`, `super::`, `self::` and child-module paths a file uses, outside
/// `#[cfg(test)]` items (tests may reach anywhere). Paths inside macro calls are not
/// seen; that is the price of reading the real syntax tree instead of text.
#[derive(Default)]
struct Paths {
    found: Vec<Vec<String>>,
}

impl Paths {
    fn use_tree(&mut self, prefix: &mut Vec<String>, tree: &syn::UseTree) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                self.use_tree(prefix, &p.tree);
                prefix.pop();
            }
            syn::UseTree::Name(n) => {
                let mut p = prefix.clone();
                p.push(n.ident.to_string());
                self.found.push(p);
            }
            syn::UseTree::Rename(r) => {
                let mut p = prefix.clone();
                p.push(r.ident.to_string());
                self.found.push(p);
            }
            syn::UseTree::Glob(_) => self.found.push(prefix.clone()),
            syn::UseTree::Group(g) => {
                for t in &g.items {
                    self.use_tree(prefix, t);
                }
            }
        }
    }
}

fn is_test_only(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("cfg")
            && a.parse_args::<syn::Meta>()
                .is_ok_and(|m| m.path().is_ident("test"))
    })
}

impl<'ast> Visit<'ast> for Paths {
    fn visit_item(&mut self, item: &'ast syn::Item) {
        let attrs = match item {
            syn::Item::Mod(m) => &m.attrs,
            syn::Item::Fn(f) => &f.attrs,
            syn::Item::Use(u) => &u.attrs,
            syn::Item::Impl(i) => &i.attrs,
            _ => return syn::visit::visit_item(self, item),
        };
        if !is_test_only(attrs) {
            syn::visit::visit_item(self, item);
        }
    }

    fn visit_item_use(&mut self, u: &'ast syn::ItemUse) {
        self.use_tree(&mut Vec::new(), &u.tree);
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        if path.leading_colon.is_none() && path.segments.len() > 1 {
            self.found
                .push(path.segments.iter().map(|s| s.ident.to_string()).collect());
        }
        syn::visit::visit_path(self, path);
    }
}

/// Module → the modules it uses. A parent declaring `mod child;` is not an edge by
/// itself; re-exporting or using the child is.
fn module_graph(src: &Path) -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let files = modules(src);
    let mut graph = BTreeMap::new();
    for (module, path) in &files {
        let text = std::fs::read_to_string(path).expect("source");
        let file = syn::parse_file(&text)
            .unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()));
        let children: BTreeSet<String> = file
            .items
            .iter()
            .filter_map(|i| match i {
                syn::Item::Mod(m) if m.content.is_none() => Some(m.ident.to_string()),
                _ => None,
            })
            .collect();
        let mut paths = Paths::default();
        paths.visit_file(&file);
        let mut edges = BTreeSet::new();
        for p in paths.found {
            let (mut target, rest): (Vec<String>, &[String]) = match p.first().map(String::as_str) {
                Some("crate") => (Vec::new(), &p[1..]),
                Some("super" | "self") => {
                    let mut base = module.clone();
                    let mut i = 0;
                    while let Some(s) = p.get(i).map(String::as_str) {
                        match s {
                            "super" => {
                                base.pop();
                            }
                            "self" => {}
                            _ => break,
                        }
                        i += 1;
                    }
                    (base, &p[i..])
                }
                Some(first) if children.contains(first) => (module.clone(), &p[..]),
                _ => continue,
            };
            for segment in rest {
                let mut next = target.clone();
                next.push(segment.clone());
                if files.contains_key(&next) {
                    target = next;
                } else {
                    break;
                }
            }
            if &target != module && files.contains_key(&target) {
                edges.insert(target);
            }
        }
        graph.insert(module.clone(), edges);
    }
    graph
}

/// The modules that reach themselves again through their uses.
fn cycles(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<String> {
    let reach = |from: &Vec<String>| {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<&Vec<String>> = graph[from].iter().collect();
        while let Some(m) = todo.pop() {
            if seen.insert(m.clone()) {
                todo.extend(graph.get(m).into_iter().flatten());
            }
        }
        seen
    };
    let show = |m: &Vec<String>| {
        if m.is_empty() {
            "<crate root>".to_string()
        } else {
            m.join("::")
        }
    };
    graph
        .keys()
        .filter(|m| reach(m).contains(*m))
        .map(|m| {
            let back: Vec<String> = graph[m]
                .iter()
                .filter(|n| reach(n).contains(m))
                .map(show)
                .collect();
            format!("{} -> {} -> ... -> {}", show(m), back.join(" | "), show(m))
        })
        .collect()
}

#[test]
fn no_crate_has_module_cycles() {
    let mut found = Vec::new();
    for (name, dir) in crates() {
        for cycle in cycles(&module_graph(&dir.join("src"))) {
            found.push(format!("{name}: {cycle}"));
        }
    }
    assert!(
        found.is_empty(),
        "modules that use each other (move the shared piece into a module both use): {found:#?}"
    );
}

#[test]
fn the_cycle_check_sees_a_cycle() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path();
    std::fs::write(src.join("lib.rs"), "mod a;\nmod b;\n").expect("lib");
    std::fs::write(src.join("a.rs"), "use crate::b::B;\npub struct A;\n").expect("a");
    std::fs::write(src.join("b.rs"), "pub struct B(crate::a::A);\n").expect("b");
    assert_eq!(
        cycles(&module_graph(src)).len(),
        2,
        "a and b use each other"
    );
    std::fs::write(
        src.join("b.rs"),
        "pub struct B;\n#[cfg(test)]\nmod t { use crate::a::A; }\n",
    )
    .expect("b");
    assert!(
        cycles(&module_graph(src)).is_empty(),
        "test-only uses are not edges"
    );
}
