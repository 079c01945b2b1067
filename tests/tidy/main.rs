//! The house rules, checked on the whole tree (`make test` runs them): which crate may depend on
//! which, how long a source file, a handler and a line may be, that every source file opens with
//! a `//!` doc, and that every `#[allow]` gives its reason. `docs/architecture.md` states each
//! rule; each rule also has a test here that plants a violation and sees it caught.

use std::path::{Path, PathBuf};

use serde_json::Value;

/// The longest hand-written source file, in lines.
const MAX_FILE_LINES: usize = 600;
/// Source files over [`MAX_FILE_LINES`] on purpose (generated or test data); none today.
const LONG_FILES: &[&str] = &[];
/// The longest route handler (from `fn` to its closing brace), in lines.
const MAX_HANDLER_LINES: usize = 40;
/// The widest line, in characters (`rustfmt.toml`'s `max_width`).
const MAX_COLUMNS: usize = 100;

/// Dependencies (normal, not dev or build) a crate must never have: a workspace crate or a
/// prefix of a crates.io name, and why.
#[rustfmt::skip]
const FORBIDDEN_EDGES: &[(&str, &str, &str)] = &[
    ("models", "actix", "wire payloads know no HTTP framework"),
    ("models", "tokio", "wire payloads know no runtime"),
    ("models", "diesel", "wire payloads know no database"),
    ("models", "reqwest", "wire payloads know no HTTP client"),
    ("models", "store-", "wire payloads know no storage"),
    ("store-core", "actix", "the back-end contract knows no HTTP"),
    ("store-core", "store-pgvector", "the contract names no back-end"),
    ("store-core", "store-elastic", "the contract names no back-end"),
    ("embeddings", "store-", "the models know no storage"),
    ("embeddings", "actix", "the models know no HTTP"),
    ("service", "actix", "the service is usable without HTTP"),
    ("service", "store-pgvector", "only the binary names a back-end"),
    ("service", "store-elastic", "only the binary names a back-end"),
    ("api-http", "store-", "handlers reach storage through the service"),
    ("api-http", "embeddings", "handlers reach the models through the service"),
    ("api-mcp", "actix", "the MCP tools know no HTTP framework: api-http bridges them"),
    ("api-mcp", "api-http", "the MCP tools reach the service, never the HTTP skin"),
    ("api-mcp", "store-", "the MCP tools reach storage through the service"),
    ("api-mcp", "embeddings", "the MCP tools reach the models through the service"),
    ("store-pgvector", "store-elastic", "back-ends know nothing of each other"),
    ("store-elastic", "store-pgvector", "back-ends know nothing of each other"),
    ("openai-vectorstore-sdk", "store-", "the SDK speaks the wire format only"),
    ("openai-vectorstore-sdk", "service", "the SDK speaks the wire format only"),
];

/// A broken rule: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Violation {
    place: String,
    rule: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.place, self.rule)
    }
}

fn violation(place: impl Into<String>, rule: impl Into<String>) -> Violation {
    Violation {
        place: place.into(),
        rule: rule.into(),
    }
}

/// The crate edges of `cargo metadata --no-deps` output that [`FORBIDDEN_EDGES`] forbids.
fn forbidden_edges(metadata: &Value) -> Vec<Violation> {
    let mut found = Vec::new();
    let packages = metadata["packages"].as_array().cloned().unwrap_or_default();
    for package in &packages {
        let name = package["name"].as_str().unwrap_or_default();
        let dependencies = package["dependencies"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        for dependency in dependencies.iter().filter(|d| d["kind"].is_null()) {
            let target = dependency["name"].as_str().unwrap_or_default();
            for (from, to, why) in FORBIDDEN_EDGES {
                if name == *from && target.starts_with(to) {
                    found.push(violation(
                        format!("crate {name}"),
                        format!("depends on {target}: {why}"),
                    ));
                }
            }
        }
    }
    found
}

/// What one source file breaks of the rules on its text: length, width, opening doc, reasons
/// of `#[allow]`s, and (in a routes module) the length of each handler.
fn source_violations(path: &str, text: &str) -> Vec<Violation> {
    let mut found = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() > MAX_FILE_LINES && !LONG_FILES.contains(&path) {
        found.push(violation(
            path,
            format!(
                "{} lines, over {MAX_FILE_LINES}: split it by concern",
                lines.len()
            ),
        ));
    }
    if !lines
        .iter()
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| l.starts_with("//!"))
    {
        found.push(violation(path, "does not open with a `//!` doc"));
    }
    for (i, line) in lines.iter().enumerate() {
        let place = format!("{path}:{}", i + 1);
        let width = line.chars().count();
        if width > MAX_COLUMNS {
            found.push(violation(
                &place,
                format!("{width} columns, over {MAX_COLUMNS}"),
            ));
        }
        let code = line.trim_start();
        if code.starts_with("#[allow(") || code.starts_with("#![allow(") {
            // The attribute, to its closing `)]` (rustfmt may spread it over lines).
            let end = lines[i..]
                .iter()
                .position(|l| l.contains(")]"))
                .unwrap_or(0);
            if !lines[i..=i + end].iter().any(|l| l.contains("reason =")) {
                found.push(violation(&place, "an `#[allow]` without a reason"));
            }
        }
    }
    if path.contains("/routes/") {
        found.extend(long_handlers(path, &lines));
    }
    found
}

/// Route handlers (functions under a `#[utoipa::path]`) longer than [`MAX_HANDLER_LINES`].
fn long_handlers(path: &str, lines: &[&str]) -> Vec<Violation> {
    let mut found = Vec::new();
    let mut under_route = false;
    for (i, line) in lines.iter().enumerate() {
        if line.starts_with("#[utoipa::path") {
            under_route = true;
        }
        let is_fn = line.starts_with("async fn ")
            || line.starts_with("pub async fn ")
            || line.starts_with("fn ")
            || line.starts_with("pub fn ");
        if !(under_route && is_fn) {
            continue;
        }
        under_route = false;
        let Some(end) = lines[i..].iter().position(|l| *l == "}") else {
            continue;
        };
        let length = end + 1;
        if length > MAX_HANDLER_LINES {
            let name = line.split(['(', '<']).next().unwrap_or(line);
            found.push(violation(
                format!("{path}:{}", i + 1),
                format!(
                    "{name} is {length} lines, over {MAX_HANDLER_LINES}: move the work into the \
                     service"
                ),
            ));
        }
    }
    found
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace above tests/")
        .to_path_buf()
}

/// Every `.rs` file of the workspace's own code, relative to its root.
fn source_files(root: &Path) -> Vec<String> {
    let mut files = Vec::new();
    let mut dirs: Vec<PathBuf> = ["crates", "bins", "tests"]
        .iter()
        .map(|d| root.join(d))
        .collect();
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                if !name.starts_with('.') && name != "target" && name != "node_modules" {
                    dirs.push(path);
                }
            } else if name.ends_with(".rs") {
                let relative = path.strip_prefix(root).expect("under the root");
                files.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    files.sort();
    files
}

fn report(violations: &[Violation]) -> String {
    violations.iter().map(|v| format!("\n  {v}")).collect()
}

#[test]
fn the_tree_keeps_the_house_rules() {
    let root = workspace_root();
    let files = source_files(&root);
    assert!(
        files.len() > 100,
        "the source files were not found: {files:?}"
    );
    let mut violations = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(root.join(file)).expect("a readable source file");
        violations.extend(source_violations(file, &text));
    }
    assert!(
        violations.is_empty(),
        "house rules broken:{}",
        report(&violations)
    );
}

#[test]
fn the_crate_graph_points_one_way() {
    let output = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(workspace_root())
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).expect("cargo metadata's JSON");
    let names: Vec<&str> = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for expected in ["service", "api-http", "api-mcp", "store-core", "models"] {
        assert!(names.contains(&expected), "{names:?}");
    }
    let violations = forbidden_edges(&metadata);
    assert!(
        violations.is_empty(),
        "forbidden crate edges:{}",
        report(&violations)
    );
}

mod planted {
    //! Each rule, shown to catch a violation planted in an otherwise good text.

    use serde_json::json;

    use super::*;

    const GOOD: &str = "//! A module.\n\nfn f() {}\n";

    fn rules_broken(path: &str, text: &str) -> Vec<String> {
        source_violations(path, text)
            .into_iter()
            .map(|v| v.rule)
            .collect()
    }

    #[test]
    fn a_good_file_breaks_no_rule() {
        assert!(rules_broken("crates/x/src/lib.rs", GOOD).is_empty());
    }

    #[test]
    fn a_file_over_the_line_limit_is_caught_unless_listed() {
        let long = format!("//! A module.\n{}", "fn f() {}\n".repeat(MAX_FILE_LINES));
        let broken = rules_broken("crates/x/src/lib.rs", &long);
        assert!(
            broken.iter().any(|r| r.contains("split it by concern")),
            "{broken:?}"
        );
    }

    #[test]
    fn a_line_over_the_width_is_caught() {
        let wide = format!("{GOOD}// {}\n", "x".repeat(MAX_COLUMNS));
        let broken = rules_broken("crates/x/src/lib.rs", &wide);
        assert!(broken.iter().any(|r| r.contains("columns")), "{broken:?}");
        // Width is counted in characters, not bytes.
        let unicode = format!("{GOOD}// {}\n", "é".repeat(MAX_COLUMNS - 3));
        assert!(rules_broken("crates/x/src/lib.rs", &unicode).is_empty());
    }

    #[test]
    fn a_file_without_an_opening_doc_is_caught() {
        let broken = rules_broken("crates/x/src/lib.rs", "use std::fmt;\n");
        assert!(broken.iter().any(|r| r.contains("`//!`")), "{broken:?}");
    }

    #[test]
    fn an_allow_without_a_reason_is_caught() {
        let bare = format!("{GOOD}#[allow(dead_code)]\nfn g() {{}}\n");
        let broken = rules_broken("crates/x/src/lib.rs", &bare);
        assert!(
            broken.iter().any(|r| r.contains("without a reason")),
            "{broken:?}"
        );
        let reasoned = format!("{GOOD}#[allow(dead_code, reason = \"kept for the example\")]\n");
        assert!(rules_broken("crates/x/src/lib.rs", &reasoned).is_empty());
        // Spread over lines as rustfmt writes a long one.
        let spread = format!("{GOOD}#[allow(\n    dead_code,\n    reason = \"kept\"\n)]\n");
        assert!(rules_broken("crates/x/src/lib.rs", &spread).is_empty());
        let spread_bare = format!("{GOOD}#[allow(\n    dead_code,\n    unused\n)]\nfn g() {{}}\n");
        assert!(!rules_broken("crates/x/src/lib.rs", &spread_bare).is_empty());
    }

    #[test]
    fn a_long_handler_is_caught_in_a_routes_module() {
        let body = "    let _ = 1;\n".repeat(MAX_HANDLER_LINES);
        let handler = format!(
            "{GOOD}#[utoipa::path(get, path = \"/x\")]\n\
             async fn get_x() -> u8 {{\n{body}    0\n}}\n"
        );
        let broken = rules_broken("crates/api-http/src/routes/x.rs", &handler);
        assert!(
            broken.iter().any(|r| r.contains("async fn get_x")),
            "{broken:?}"
        );
        // A helper without a route is not a handler.
        let helper = handler.replace("#[utoipa::path(get, path = \"/x\")]\n", "");
        assert!(rules_broken("crates/api-http/src/routes/x.rs", &helper).is_empty());
    }

    #[test]
    fn a_forbidden_crate_edge_is_caught_and_dev_dependencies_are_not() {
        let metadata = |kind: Value| {
            json!({"packages": [
                {"name": "service", "dependencies": [{"name": "actix-web", "kind": kind}]},
                {"name": "api-http", "dependencies": [{"name": "service", "kind": null}]}
            ]})
        };
        let found = forbidden_edges(&metadata(Value::Null));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].rule.contains("actix-web"), "{found:?}");
        assert!(forbidden_edges(&metadata(json!("dev"))).is_empty());
    }
}
