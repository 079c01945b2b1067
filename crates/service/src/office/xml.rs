//! A streaming reader of one Office XML part: elements and their text, no entity expansion,
//! no document type declarations, and a bounded depth.

use std::borrow::Cow;

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::MAX_DEPTH;
use crate::text::ExtractError;

/// What the reader yields: an element opened (an empty one is opened and closed), closed, or
/// text within one.
pub enum Node<'a> {
    Open(BytesStart<'a>),
    Close(String),
    Text(Cow<'a, str>),
}

pub struct Xml<'a> {
    reader: Reader<&'a [u8]>,
    depth: usize,
    filename: &'a str,
    part: String,
}

impl<'a> Xml<'a> {
    pub fn new(filename: &'a str, part: &str, xml: &'a str) -> Self {
        let mut reader = Reader::from_str(xml);
        reader.config_mut().expand_empty_elements = true;
        Self {
            reader,
            depth: 0,
            filename,
            part: part.to_string(),
        }
    }

    fn invalid(&self, why: impl std::fmt::Display) -> ExtractError {
        ExtractError::Invalid(format!(
            "'{}' has a part '{}' that is not readable XML: {why}",
            self.filename, self.part
        ))
    }

    /// The next node, or `None` at the end of the part.
    #[allow(
        clippy::should_implement_trait,
        reason = "fallible: an iterator of results would hide the end behind Some(Err)"
    )]
    pub fn next(&mut self) -> Result<Option<Node<'a>>, ExtractError> {
        loop {
            let event = self.reader.read_event().map_err(|e| self.invalid(e))?;
            return Ok(Some(match event {
                Event::Start(e) => {
                    self.depth += 1;
                    if self.depth > MAX_DEPTH {
                        return Err(
                            self.invalid(format!("its elements nest more than {MAX_DEPTH} deep"))
                        );
                    }
                    Node::Open(e)
                }
                Event::End(e) => {
                    self.depth = self.depth.saturating_sub(1);
                    Node::Close(e.local_name().as_ref().to_string())
                }
                Event::Text(t) => Node::Text(t.xml10_content()),
                Event::CData(t) => Node::Text(t.xml10_content()),
                Event::GeneralRef(r) => {
                    let c = match r.resolve_char_ref().map_err(|e| self.invalid(e))? {
                        Some(c) => c,
                        None => match &*r {
                            "amp" => '&',
                            "lt" => '<',
                            "gt" => '>',
                            "quot" => '"',
                            "apos" => '\'',
                            name => {
                                return Err(self.invalid(format!(
                                    "it refers to the undeclared entity '&{name};'"
                                )));
                            }
                        },
                    };
                    Node::Text(Cow::Owned(c.to_string()))
                }
                Event::DocType(_) => {
                    return Err(self.invalid(
                        "it declares a document type (Office XML never does; its entities \
                         would not be expanded)",
                    ));
                }
                Event::Eof => return Ok(None),
                Event::Empty(_) | Event::Comment(_) | Event::Decl(_) | Event::PI(_) => continue,
            }));
        }
    }

    /// Reads past the element just opened, through its matching close.
    pub fn skip(&mut self) -> Result<(), ExtractError> {
        let mut open = 1usize;
        while open > 0 {
            match self.next()? {
                Some(Node::Open(_)) => open += 1,
                Some(Node::Close(_)) => open -= 1,
                Some(Node::Text(_)) => {}
                None => return Ok(()),
            }
        }
        Ok(())
    }
}

/// An element's name without its namespace prefix.
pub fn local<'b>(e: &'b BytesStart<'_>) -> &'b str {
    let name = e.name();
    let full: &'b str = name.0;
    full.rsplit_once(':').map_or(full, |(_, local)| local)
}

/// The value of an attribute by its name without prefix (`w:val` is `val`), preferring an
/// unprefixed one; `None` when absent or unreadable.
pub fn attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    attr_where(e, name, |_| true)
}

/// The value of an attribute with a namespace prefix and this local name (`r:id`, beside a
/// plain `id`).
pub fn prefixed_attr(e: &BytesStart<'_>, name: &str) -> Option<String> {
    attr_where(e, name, |key| key.contains(':'))
}

fn attr_where(e: &BytesStart<'_>, name: &str, keep: impl Fn(&str) -> bool) -> Option<String> {
    e.attributes().flatten().find_map(|a| {
        let key: &str = a.key.0;
        let local = key.rsplit_once(':').map_or(key, |(_, l)| l);
        (local == name && keep(key))
            .then(|| {
                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                    .ok()
                    .map(Cow::into_owned)
            })
            .flatten()
    })
}
