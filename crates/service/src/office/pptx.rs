//! PowerPoint presentations: slide by slide in the presentation's order, each a heading with
//! its number and title, the text of its shapes and tables (one line per row), then its speaker
//! notes.

use super::Package;
use super::xml::{Node, Xml, attr, local, prefixed_attr};
use crate::text::ExtractError;

/// The text of one slide or notes page: its title, and its other paragraphs and table rows
/// (`true`).
#[derive(Default)]
struct Page {
    title: Vec<String>,
    lines: Vec<(bool, String)>,
}

pub(super) fn text(package: &mut Package<'_>) -> Result<String, ExtractError> {
    let filename = package.filename();
    let main = package.main_part("ppt/presentation.xml")?;
    let rels = package.relationships(&main)?;
    let xml = package.part(&main)?.ok_or_else(|| {
        ExtractError::Invalid(format!(
            "'{filename}' is not a PowerPoint presentation: it has no part '{main}'"
        ))
    })?;
    // The slides in the order the presentation lists them.
    let mut slides = Vec::new();
    let mut reader = Xml::new(filename, &main, &xml);
    while let Some(node) = reader.next()? {
        let Node::Open(e) = node else { continue };
        if local(&e) != "sldId" {
            continue;
        }
        let Some(id) = prefixed_attr(&e, "id") else {
            continue;
        };
        if let Some((_, _, path)) = rels.iter().find(|(rid, _, _)| *rid == id) {
            slides.push(path.clone());
        }
    }
    let mut out = super::Text::default();
    for (n, path) in slides.iter().enumerate() {
        let Some(xml) = package.part(path)? else {
            continue;
        };
        let slide = page(filename, path, &xml, false)?;
        let title = slide.title.join(" ");
        out.heading(
            2,
            &match title.trim() {
                "" => format!("Slide {}", n + 1),
                t => format!("Slide {}: {t}", n + 1),
            },
        );
        for (is_row, line) in &slide.lines {
            if *is_row {
                out.row(line);
            } else {
                out.paragraph(line);
            }
        }
        let notes = package
            .relationships(path)?
            .into_iter()
            .find(|(_, kind, _)| kind == "notesSlide");
        if let Some((_, _, notes_path)) = notes
            && let Some(xml) = package.part(&notes_path)?
        {
            let notes = page(filename, &notes_path, &xml, true)?;
            if !notes.lines.is_empty() {
                let lines: Vec<&str> = notes.lines.iter().map(|(_, l)| l.as_str()).collect();
                out.paragraph(&format!("Notes: {}", lines.join("\n")));
            }
        }
    }
    Ok(out.finish())
}

/// The text of a slide, or (`notes`) of the body of a notes page: placeholders other than the
/// body (the slide's picture, its number) are left out of notes.
fn page(filename: &str, path: &str, xml: &str, notes: bool) -> Result<Page, ExtractError> {
    let mut reader = Xml::new(filename, path, xml);
    let mut page = Page::default();
    // The shape being read: whether it is the title, whether it is left out.
    let (mut title, mut skip) = (false, false);
    let mut paragraph: Option<String> = None;
    let mut in_text = false;
    let (mut row, mut cell): (Option<Vec<String>>, Option<String>) = (None, None);
    while let Some(node) = reader.next()? {
        match node {
            Node::Open(e) => match local(&e) {
                "Fallback" => reader.skip()?,
                "sp" => (title, skip) = (false, false),
                "ph" => {
                    let kind = attr(&e, "type");
                    title = matches!(kind.as_deref(), Some("title" | "ctrTitle"));
                    skip = notes && kind.as_deref() != Some("body");
                }
                "tr" => row = Some(Vec::new()),
                "tc" => cell = Some(String::new()),
                "p" => paragraph = Some(String::new()),
                "t" => in_text = true,
                "br" => {
                    if let Some(p) = paragraph.as_mut() {
                        p.push('\n');
                    }
                }
                _ => {}
            },
            Node::Text(t) if in_text => {
                if let Some(p) = paragraph.as_mut() {
                    p.push_str(&t);
                }
            }
            Node::Text(_) => {}
            Node::Close(name) => match name.as_str() {
                "t" => in_text = false,
                "p" => {
                    let Some(p) = paragraph.take() else { continue };
                    let text = p.trim();
                    if text.is_empty() || skip {
                        continue;
                    }
                    if let Some(c) = cell.as_mut() {
                        if !c.is_empty() {
                            c.push(' ');
                        }
                        c.push_str(&text.replace('\n', " "));
                    } else if title {
                        page.title.push(text.replace('\n', " "));
                    } else {
                        page.lines.push((false, text.to_string()));
                    }
                }
                "tc" => {
                    if let (Some(r), Some(c)) = (row.as_mut(), cell.take()) {
                        r.push(c);
                    }
                }
                "tr" => {
                    if let Some(r) = row.take()
                        && r.iter().any(|c| !c.trim().is_empty())
                    {
                        page.lines.push((true, r.join(" | ")));
                    }
                }
                "sp" => (title, skip) = (false, false),
                _ => {}
            },
        }
    }
    Ok(page)
}
