//! Recorded requests as TypeScript, checked by `tsc --strict` against the request types of the
//! official JavaScript client (`@elastic/elasticsearch`) for Elasticsearch 8.19 and 9.x, which
//! `tests/es-types` installs (`npm ci`).
//!
//! Each request becomes one object literal assigned to the client's type for its endpoint,
//! chosen from the method and path: the path's parameters, the query parameters and the body's
//! keys side by side, as the client's flattened request types declare them. Object literals
//! get TypeScript's excess-property check, so an unknown key or a wrong enum value fails. A
//! `_bulk` body is checked line by line: each action as a `BulkOperationContainer`, each source
//! as the chunk document (`tests/es-types/document.ts`). A request to an endpoint with no type
//! here fails the test: a new kind of request needs its type added to [`endpoint`].

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::recorder::Recorded;

/// The client packages `tests/es-types` installs under these aliases.
pub const CLIENTS: [&str; 2] = ["es8", "es9"];

/// The TypeScript project holding the clients.
pub fn project_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/es-types");
    dir.canonicalize().unwrap_or(dir)
}

/// What a request's body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Body {
    /// No body.
    None,
    /// A JSON object (or nothing), its keys beside the parameters.
    Json,
    /// `_bulk` NDJSON.
    Bulk,
}

/// The client's type for a request, with the parameters its path carries.
#[derive(Debug)]
pub struct Endpoint {
    pub type_name: &'static str,
    path_params: Vec<(&'static str, String)>,
    body: Body,
}

/// The client's request type for `method path` (path percent-encoded), or why there is none.
pub fn endpoint(method: &str, path: &str) -> Result<Endpoint, String> {
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
    let (type_name, names, body): (_, &[&str], _) = match (method, parts.as_slice()) {
        ("GET", []) => ("InfoRequest", &[], Body::None),
        ("HEAD", []) => ("PingRequest", &[], Body::None),
        // Before the index patterns: an index name never starts with `_`.
        ("GET", ["_tasks"]) => ("TasksListRequest", &[], Body::None),
        ("GET", ["_tasks", _]) => ("TasksGetRequest", &["", "task_id"], Body::None),
        ("POST", ["_tasks", _, "_cancel"]) => ("TasksCancelRequest", &["", "task_id"], Body::None),
        ("PUT", [_]) => ("IndicesCreateRequest", &["index"], Body::Json),
        ("DELETE", [_]) => ("IndicesDeleteRequest", &["index"], Body::None),
        ("HEAD", [_]) => ("IndicesExistsRequest", &["index"], Body::None),
        ("GET", [_]) => ("IndicesGetRequest", &["index"], Body::None),
        ("GET", [_, "_mapping"]) => ("IndicesGetMappingRequest", &["index"], Body::None),
        ("PUT" | "POST", [_, "_mapping"]) => ("IndicesPutMappingRequest", &["index"], Body::Json),
        ("GET" | "POST", [_, "_refresh"]) => ("IndicesRefreshRequest", &["index"], Body::None),
        ("GET" | "POST", [_, "_search"]) => ("SearchRequest", &["index"], Body::Json),
        ("GET" | "POST", [_, "_count"]) => ("CountRequest", &["index"], Body::Json),
        ("PUT" | "POST", [_, "_bulk"]) => ("BulkRequest<ChunkDocument>", &["index"], Body::Bulk),
        ("POST", [_, "_delete_by_query"]) => ("DeleteByQueryRequest", &["index"], Body::Json),
        ("POST", [_, "_update_by_query"]) => ("UpdateByQueryRequest", &["index"], Body::Json),
        _ => {
            return Err(format!(
                "no request type is known for {method} {path}: add the client's type for it to \
                 `endpoint` in {}",
                file!()
            ));
        }
    };
    let path_params = names
        .iter()
        .zip(&segments)
        .filter(|(name, _)| !name.is_empty())
        .map(|(name, value)| (*name, value.clone()))
        .collect();
    Ok(Endpoint {
        type_name,
        path_params,
        body,
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match hex
            .filter(|_| bytes[i] == b'%')
            .map(|h| u8::from_str_radix(h, 16))
        {
            Some(Ok(b)) => {
                out.push(b);
                i += 3;
            }
            _ => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A query parameter's value as the client takes it: booleans and integers as such (the client
/// writes them back as the same text), anything else as a string.
fn param_value(v: &str) -> Value {
    match v {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        _ => v
            .parse::<u64>()
            .ok()
            .filter(|_| !v.starts_with('0') || v == "0")
            .map_or_else(|| Value::String(v.into()), Value::from),
    }
}

/// The TypeScript module checking `requests` against client `client` (an alias of
/// [`CLIENTS`]); every request's endpoint must be known.
pub fn module(client: &str, requests: &[Recorded]) -> Result<String, String> {
    let mut out = format!(
        "// Generated by {}: the requests store-elastic sent, each typed as the\n// official \
         client's request for its endpoint.\nimport type {{ estypes as T }} from '{client}';\n\
         import type {{ ChunkDocument }} from '../document';\n",
        file!()
    );
    let mut seen = HashSet::new();
    let mut errors = Vec::new();
    for (n, r) in requests.iter().enumerate() {
        match literals(r) {
            Ok(items) => {
                for (i, (ty, literal)) in items.into_iter().enumerate() {
                    if seen.insert((ty.clone(), literal.clone())) {
                        let query: Vec<String> =
                            r.params.iter().map(|(k, v)| format!("{k}={v}")).collect();
                        writeln!(
                            out,
                            "\n// #{n} {} {}?{}\nexport const r{n}_{i}: {ty} = {literal};",
                            r.method,
                            r.path,
                            query.join("&")
                        )
                        .expect("a string takes writes");
                    }
                }
            }
            Err(e) => errors.push(format!("#{n} {} {}: {e}", r.method, r.path)),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors.join("\n"))
    }
}

/// The typed literals one request makes: `(type, literal)`.
fn literals(r: &Recorded) -> Result<Vec<(String, String)>, String> {
    let endpoint = endpoint(&r.method, &r.path)?;
    let mut request = Map::new();
    for (name, value) in &endpoint.path_params {
        request.insert((*name).into(), Value::String(value.clone()));
    }
    for (name, value) in &r.params {
        if request.insert(name.clone(), param_value(value)).is_some() {
            return Err(format!("parameter {name} is given twice"));
        }
    }
    let mut lines = Vec::new();
    match (endpoint.body, r.body.is_empty()) {
        (_, true) => {}
        (Body::None, false) => return Err("a body where the endpoint takes none".into()),
        (Body::Json, false) => {
            let body: Value = serde_json::from_slice(&r.body).map_err(|e| e.to_string())?;
            let Value::Object(fields) = body else {
                return Err(format!("a body that is not a JSON object: {body}"));
            };
            for (key, value) in fields {
                if request.contains_key(&key) {
                    return Err(format!("{key} is both a parameter and a body key"));
                }
                request.insert(key, value);
            }
        }
        (Body::Bulk, false) => lines = bulk_lines(&r.body)?,
    }
    let mut items = vec![(
        format!("T.{}", endpoint.type_name),
        pretty(&Value::Object(request)),
    )];
    items.extend(lines);
    Ok(items)
}

/// A `_bulk` body's lines, typed: actions as the client's `BulkOperationContainer`, sources as
/// the chunk document, updates as the client's `BulkUpdateAction`.
fn bulk_lines(body: &[u8]) -> Result<Vec<(String, String)>, String> {
    let text = std::str::from_utf8(body).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut source: Option<String> = None;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let value: Value = serde_json::from_str(line).map_err(|e| format!("{e}: {line}"))?;
        if let Some(ty) = source.take() {
            out.push((ty, pretty(&value)));
            continue;
        }
        let action = value
            .as_object()
            .and_then(|o| o.keys().next())
            .cloned()
            .unwrap_or_default();
        source = match action.as_str() {
            "index" | "create" => Some("ChunkDocument".into()),
            "update" => Some("T.BulkUpdateAction<ChunkDocument, Partial<ChunkDocument>>".into()),
            _ => None,
        };
        out.push(("T.BulkOperationContainer".into(), pretty(&value)));
    }
    match source {
        Some(_) => Err("a _bulk action without its source line".into()),
        None => Ok(out),
    }
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).expect("JSON values serialize")
}

/// Writes one module per client for `requests` under `generated/<name>.<client>.ts` and runs
/// `tsc --noEmit --strict` over them; `plant` edits each module's text first. The modules
/// written, and tsc's output when it failed.
pub fn check(
    name: &str,
    requests: &[Recorded],
    plant: impl Fn(String) -> String,
) -> (Vec<PathBuf>, Result<(), String>) {
    let project = project_dir();
    let tsc = project.join("node_modules/.bin/tsc");
    assert!(
        tsc.exists(),
        "{} is missing: run `npm ci --prefix tests/es-types` (`make test` does) to install the \
         Elasticsearch client types the request bodies are checked against",
        tsc.display()
    );
    let dir = project.join("generated");
    std::fs::create_dir_all(&dir).expect("the generated folder");
    let mut files = Vec::new();
    for client in CLIENTS {
        let text = module(client, requests).unwrap_or_else(|e| panic!("{e}"));
        let file = dir.join(format!("{name}.{client}.ts"));
        std::fs::write(&file, plant(text)).expect("the generated module");
        files.push(file);
    }
    let output = std::process::Command::new(&tsc)
        .current_dir(&project)
        .args([
            "--noEmit",
            "--strict",
            // The clients' own declarations are not what is checked here.
            "--skipLibCheck",
            "--target",
            "es2022",
            "--module",
            "nodenext",
            "--moduleResolution",
            "nodenext",
            "--pretty",
            "false",
        ])
        .args(&files)
        .output()
        .expect("tsc runs (Node.js is installed)");
    let result = if output.status.success() {
        Ok(())
    } else {
        Err(annotated(
            &project,
            &format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ),
        ))
    };
    (files, result)
}

/// tsc's output with, under each error, the request it is in (the comment above its literal).
fn annotated(project: &Path, output: &str) -> String {
    let mut out = String::new();
    for line in output.lines() {
        out.push_str(line);
        out.push('\n');
        let Some((file, rest)) = line.split_once('(') else {
            continue;
        };
        let number = rest
            .split([',', ')'])
            .next()
            .and_then(|n| n.parse::<usize>().ok());
        let (Some(number), Ok(text)) = (number, std::fs::read_to_string(project.join(file))) else {
            continue;
        };
        if let Some(request) = text
            .lines()
            .take(number)
            .filter(|l| l.starts_with("// #"))
            .last()
        {
            writeln!(out, "    in request {}", &request[3..]).expect("a string takes writes");
        }
    }
    out
}
