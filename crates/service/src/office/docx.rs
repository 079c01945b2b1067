//! Word documents: the main document's body in reading order. Headings (by their style or
//! outline level) become Markdown headings, list paragraphs `-` items indented by level, and
//! tables one line per row with ` | ` between cells. Deleted text and field codes are left out,
//! and so is the fallback copy of content that has another form.

use std::collections::HashMap;

use super::Package;
use super::xml::{Node, Xml, attr, local};
use crate::text::ExtractError;

/// A paragraph being read.
#[derive(Default)]
struct Paragraph {
    text: String,
    heading: Option<usize>,
    list_level: Option<usize>,
}

/// A table being read: the cells of its current row and the cell being read.
#[derive(Default)]
struct Table {
    row: Vec<String>,
    cell: String,
}

pub(super) fn text(package: &mut Package<'_>) -> Result<String, ExtractError> {
    let filename = package.filename();
    let main = package.main_part("word/document.xml")?;
    let styles = match package
        .relationships(&main)?
        .into_iter()
        .find(|(_, kind, _)| kind == "styles")
    {
        Some((_, _, path)) => styles(package, &path)?,
        None => HashMap::new(),
    };
    let xml = package.part(&main)?.ok_or_else(|| {
        ExtractError::Invalid(format!(
            "'{filename}' is not a Word document: it has no part '{main}'"
        ))
    })?;
    let mut reader = Xml::new(filename, &main, &xml);
    let mut out = super::Text::default();
    let mut paragraphs: Vec<Paragraph> = Vec::new();
    let mut tables: Vec<Table> = Vec::new();
    let (mut in_text, mut runs) = (false, 0usize);
    while let Some(node) = reader.next()? {
        match node {
            Node::Open(e) => match local(&e) {
                "Fallback" => reader.skip()?,
                "p" => paragraphs.push(Paragraph::default()),
                "r" => runs += 1,
                "t" => in_text = true,
                "tab" if runs > 0 => push(&mut paragraphs, "\t"),
                "br" | "cr" if runs > 0 => push(&mut paragraphs, "\n"),
                "noBreakHyphen" if runs > 0 => push(&mut paragraphs, "-"),
                "pStyle" => {
                    let style = attr(&e, "val").and_then(|id| styles.get(&id));
                    if let (Some(p), Some(style)) = (paragraphs.last_mut(), style) {
                        p.heading = p.heading.or(style.heading);
                        if style.list {
                            p.list_level = p.list_level.or(Some(0));
                        }
                    }
                }
                "outlineLvl" => {
                    if let Some(p) = paragraphs.last_mut() {
                        p.heading = outline_level(attr(&e, "val"));
                    }
                }
                "numPr" => {
                    if let Some(p) = paragraphs.last_mut() {
                        p.list_level = Some(0);
                    }
                }
                "ilvl" => {
                    if let Some(p) = paragraphs.last_mut() {
                        let level = attr(&e, "val").and_then(|v| v.parse().ok());
                        p.list_level = Some(level.unwrap_or(0).min(8));
                    }
                }
                "tbl" => tables.push(Table::default()),
                "tc" => {
                    if let Some(t) = tables.last_mut() {
                        t.cell.clear();
                    }
                }
                _ => {}
            },
            Node::Text(t) if in_text => push(&mut paragraphs, &t),
            Node::Text(_) => {}
            Node::Close(name) => match name.as_str() {
                "t" => in_text = false,
                "r" => runs = runs.saturating_sub(1),
                "p" => {
                    let Some(p) = paragraphs.pop() else { continue };
                    let text = p.text.trim();
                    if text.is_empty() {
                        continue;
                    }
                    match tables.last_mut() {
                        Some(t) => {
                            if !t.cell.is_empty() {
                                t.cell.push(' ');
                            }
                            t.cell.push_str(text);
                        }
                        None => match (p.heading, p.list_level) {
                            (Some(level), _) => out.heading(level, text),
                            (None, Some(level)) => out.item(level, text),
                            (None, None) => out.paragraph(text),
                        },
                    }
                }
                "tc" => {
                    if let Some(t) = tables.last_mut() {
                        let cell = std::mem::take(&mut t.cell);
                        t.row.push(cell.replace('\n', " "));
                    }
                }
                "tr" => {
                    let Some(t) = tables.last_mut() else { continue };
                    let row = std::mem::take(&mut t.row);
                    if row.iter().all(|c| c.trim().is_empty()) {
                        continue;
                    }
                    let line = row.join(" | ");
                    match tables.len() {
                        1 => out.row(&line),
                        n => {
                            // A table in a cell: its rows are lines of that cell.
                            let outer = &mut tables[n - 2].cell;
                            if !outer.is_empty() {
                                outer.push_str("; ");
                            }
                            outer.push_str(&line);
                        }
                    }
                }
                "tbl" => {
                    tables.pop();
                }
                _ => {}
            },
        }
    }
    Ok(out.finish())
}

fn push(paragraphs: &mut [Paragraph], text: &str) {
    if let Some(p) = paragraphs.last_mut() {
        p.text.push_str(text);
    }
}

/// A heading level from an outline level (`0` is a level-1 heading; `9` is body text).
fn outline_level(value: Option<String>) -> Option<usize> {
    let level: usize = value?.parse().ok()?;
    (level < 9).then_some(level + 1)
}

/// What a paragraph style makes of its paragraphs: headings of a level (by the style's name,
/// `heading N` or `Title`, or its outline level), or list items (it numbers them).
#[derive(Default, Clone, Copy)]
struct Style {
    heading: Option<usize>,
    list: bool,
}

/// The paragraph styles that make headings or list items, by id.
fn styles(package: &mut Package<'_>, path: &str) -> Result<HashMap<String, Style>, ExtractError> {
    let mut styles = HashMap::new();
    let Some(xml) = package.part(path)? else {
        return Ok(styles);
    };
    let mut reader = Xml::new(package.filename(), path, &xml);
    let mut current: Option<(String, Style)> = None;
    while let Some(node) = reader.next()? {
        match node {
            Node::Open(e) => match (local(&e), current.as_mut()) {
                ("style", _) => current = attr(&e, "styleId").map(|id| (id, Style::default())),
                ("name", Some((_, style))) => {
                    let name = attr(&e, "val").unwrap_or_default().to_ascii_lowercase();
                    style.heading = match name.strip_prefix("heading ") {
                        Some(n) => n.trim().parse().ok().filter(|n| (1..=9).contains(n)),
                        None => (name == "title").then_some(1),
                    }
                    .or(style.heading);
                }
                ("outlineLvl", Some((_, style))) => {
                    style.heading = style.heading.or(outline_level(attr(&e, "val")));
                }
                ("numPr", Some((_, style))) => style.list = true,
                _ => {}
            },
            Node::Close(name) if name == "style" => {
                if let Some((id, style)) = current.take()
                    && (style.heading.is_some() || style.list)
                {
                    styles.insert(id, style);
                }
            }
            Node::Close(_) | Node::Text(_) => {}
        }
    }
    Ok(styles)
}
