//! The WordNet corpus: every synset of `data.noun`, `data.verb`, `data.adj` and `data.adv` is
//! one passage (`"word, other word: definition"`, its quoted examples removed), and every quoted
//! example of three words or more is one query whose only relevant passage is its own synset.

use std::path::Path;

use anyhow::{Context, Result, bail};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

#[derive(Debug, Clone)]
pub struct Passage {
    /// Part of speech and synset offset, e.g. `n00217593`.
    pub id: String,
    pub text: String,
}

#[derive(Debug, Clone)]
pub struct Query {
    pub text: String,
    /// Index of the relevant passage in [`Corpus::passages`].
    pub passage: usize,
}

#[derive(Debug)]
pub struct Corpus {
    /// In a seeded random order, so that any prefix is a fair sample.
    pub passages: Vec<Passage>,
    /// In a seeded random order.
    pub queries: Vec<Query>,
    /// Quoted examples in the files (including those too short to be queries).
    pub examples: usize,
}

const FILES: [(&str, char); 4] = [
    ("data.noun", 'n'),
    ("data.verb", 'v'),
    ("data.adj", 'a'),
    ("data.adv", 'r'),
];

/// Reads the four data files of a WordNet 3.0 database directory.
pub fn load(dir: &Path, seed: u64) -> Result<Corpus> {
    let mut passages = Vec::new();
    let mut examples_of = Vec::new();
    for (file, pos) in FILES {
        let path = dir.join(file);
        let content = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        for line in content.lines() {
            // The licence header lines start with two spaces.
            if line.starts_with("  ") || line.trim().is_empty() {
                continue;
            }
            let (p, examples) =
                parse_line(line, pos).with_context(|| format!("{}: {line}", path.display()))?;
            passages.push(p);
            examples_of.push(examples);
        }
    }
    let mut rng = StdRng::seed_from_u64(seed);
    let mut order: Vec<usize> = (0..passages.len()).collect();
    order.shuffle(&mut rng);
    let mut shuffled = Vec::with_capacity(passages.len());
    let mut queries = Vec::new();
    let mut examples = 0;
    for (new_index, &old) in order.iter().enumerate() {
        shuffled.push(passages[old].clone());
        for e in &examples_of[old] {
            examples += 1;
            if e.split_whitespace().count() >= 3 {
                queries.push(Query {
                    text: e.clone(),
                    passage: new_index,
                });
            }
        }
    }
    queries.shuffle(&mut rng);
    Ok(Corpus {
        passages: shuffled,
        queries,
        examples,
    })
}

impl Corpus {
    /// The first `n` passages and up to `q` queries whose passage is among them.
    pub fn subset(&self, n: usize, q: usize) -> (&[Passage], Vec<Query>) {
        let n = n.min(self.passages.len());
        let queries = self
            .queries
            .iter()
            .filter(|x| x.passage < n)
            .take(q)
            .cloned()
            .collect();
        (&self.passages[..n], queries)
    }
}

/// One data line: `offset lex_filenum ss_type w_cnt word lex_id [word lex_id ...] ... | gloss`.
fn parse_line(line: &str, pos: char) -> Result<(Passage, Vec<String>)> {
    let Some((head, gloss)) = line.split_once(" | ") else {
        bail!("no gloss");
    };
    let fields: Vec<&str> = head.split_whitespace().collect();
    if fields.len() < 6 {
        bail!("too few fields");
    }
    let count = usize::from_str_radix(fields[3], 16).context("word count")?;
    let words: Vec<String> = (0..count)
        .filter_map(|i| fields.get(4 + 2 * i))
        .map(|w| clean_word(w))
        .collect();
    let (definition, examples) = split_gloss(gloss.trim());
    let text = format!("{}: {}", words.join(", "), definition);
    Ok((
        Passage {
            id: format!("{pos}{}", fields[0]),
            text,
        },
        examples,
    ))
}

/// `laying_waste` → `laying waste`; adjective markers such as `(a)` or `(ip)` dropped.
fn clean_word(w: &str) -> String {
    let w = match w.find('(') {
        Some(i) if w.ends_with(')') => &w[..i],
        _ => w,
    };
    w.replace('_', " ")
}

/// The definition (the gloss without its quoted examples) and the examples.
fn split_gloss(gloss: &str) -> (String, Vec<String>) {
    let mut examples = Vec::new();
    let mut definition = String::new();
    let mut rest = gloss;
    while let Some(start) = rest.find('"') {
        definition.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        match after.find('"') {
            Some(end) => {
                let e = after[..end].trim();
                if !e.is_empty() {
                    examples.push(e.to_string());
                }
                rest = &after[end + 1..];
            }
            None => {
                rest = after;
                break;
            }
        }
    }
    definition.push_str(rest);
    let definition = definition
        .split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty() && !s.starts_with("--"))
        .collect::<Vec<_>>()
        .join("; ");
    (definition, examples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gloss_loses_its_examples_and_the_examples_become_queries() {
        let line = "00217593 04 n 01 kill 1 002 @ 00217014 n 0000 + 00355365 v 0101 | the \
                    destruction of an enemy plane or ship or tank or missile; \"the pilot \
                    reported two kills during the mission\"  ";
        let (p, ex) = parse_line(line, 'n').unwrap();
        assert_eq!(p.id, "n00217593");
        assert_eq!(
            p.text,
            "kill: the destruction of an enemy plane or ship or tank or missile"
        );
        assert_eq!(ex, vec!["the pilot reported two kills during the mission"]);
    }

    #[test]
    fn multi_word_lemmas_and_adjective_markers_are_cleaned() {
        let line = "00002730 00 a 02 laying_waste 0 big(a) 0 002 ;c 06066555 n 0000 | facing the \
                    apex; \"a\"; \"b c d\" -- Shakespeare";
        let (p, ex) = parse_line(line, 'a').unwrap();
        assert_eq!(p.text, "laying waste, big: facing the apex");
        assert_eq!(ex, vec!["a", "b c d"]);
    }
}
