//! Late chunking: a text is encoded once, in windows, and each span of it (a chunk) is the mean
//! of its tokens' hidden states, so that every token is encoded once and each chunk's vector
//! sees the text around it.
//!
//! The windows tile the text's tokens without overlap, cut where spans start or end, each as
//! near the spans' usual length as those cuts allow and never longer than the model reads. For
//! chunks that overlap by half (the `auto` chunking), every other chunk is a window of its own
//! and gets the very vector it has read alone; the chunks between pool the second half of one
//! window and the first half of the next. A span pools the tokens that overlap it, in whichever
//! windows they fall; a span holding the whole of a window's text also pools that window's
//! `[CLS]` and `[SEP]`, so a span read as a window, or a text read as one span, gets the very
//! vector the model gives it alone.

use std::ops::Range;

/// Where each span's tokens are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Plan {
    /// Token ranges of the text, each read as one sequence between `[CLS]` and `[SEP]`.
    pub windows: Vec<Range<usize>>,
    /// For each span, the rows it pools in each window it touches: (window, rows), row 0 being
    /// the window's `[CLS]`. Empty for a span that holds no token.
    pub rows: Vec<Vec<(usize, Range<usize>)>>,
}

/// The plan for `spans` (byte ranges) of a text whose tokens cover the byte `offsets` (in order,
/// as a BERT tokenizer gives them), read in windows of at most `window` tokens of text.
pub(crate) fn plan(
    text: &str,
    offsets: &[(usize, usize)],
    spans: &[Range<usize>],
    window: usize,
) -> Plan {
    let n = offsets.len();
    let window = window.max(1);
    // Tokens overlapping each span: the first ending after its start up to the last starting
    // before its end.
    let tokens: Vec<Range<usize>> = spans
        .iter()
        .map(|span| {
            let first = offsets.partition_point(|&(_, end)| end <= span.start);
            let last = offsets.partition_point(|&(start, _)| start < span.end);
            first..last.max(first)
        })
        .collect();
    // How strongly the text breaks before each token: a blank line, a line end, nothing.
    let breaks: Vec<u8> = (0..n)
        .map(|i| {
            let gap = match i {
                0 => "",
                _ => text.get(offsets[i - 1].1..offsets[i].0).unwrap_or(""),
            };
            match gap.matches('\n').count() {
                0 => 0,
                1 => 1,
                _ => 2,
            }
        })
        .collect();
    let windows = windows(n, &tokens, &breaks, window);
    let rows = tokens
        .iter()
        .map(|t| {
            if t.is_empty() {
                return Vec::new();
            }
            // The windows are in order: from the first that ends after the span starts.
            let first = windows.partition_point(|w| w.end <= t.start);
            windows[first..]
                .iter()
                .take_while(|w| w.start < t.end)
                .enumerate()
                .map(|(k, w)| {
                    let i = first + k;
                    let (from, to) = (t.start.max(w.start), t.end.min(w.end));
                    if from == w.start && to == w.end {
                        (i, 0..w.len() + 2)
                    } else {
                        (i, from - w.start + 1..to - w.start + 1)
                    }
                })
                .collect()
        })
        .collect();
    Plan { windows, rows }
}

/// Windows tiling `n` tokens, cut at the edges of the spans' `tokens`: from each cut, the next
/// is the edge whose distance is nearest the spans' median length, at most `window` on, moved
/// to where the text breaks most strongly (`breaks`: a blank line, then a line end) within a
/// quarter of that length, so that a paragraph is read whole rather than cut.
fn windows(n: usize, tokens: &[Range<usize>], breaks: &[u8], window: usize) -> Vec<Range<usize>> {
    let mut lengths: Vec<usize> = tokens.iter().map(Range::len).filter(|&l| l > 0).collect();
    lengths.sort_unstable();
    let target = lengths
        .get(lengths.len() / 2)
        .copied()
        .unwrap_or(window)
        .min(window);
    let mut edges: Vec<usize> = tokens
        .iter()
        .filter(|t| !t.is_empty())
        .flat_map(|t| [t.start, t.end])
        .chain([n])
        .collect();
    edges.sort_unstable();
    edges.dedup();
    let mut out = Vec::new();
    let mut at = 0;
    while at < n {
        let reach = (at + window).min(n);
        // The edges are sorted: those past `at` and within reach.
        let in_reach =
            &edges[edges.partition_point(|&e| e <= at)..edges.partition_point(|&e| e <= reach)];
        let next = in_reach
            .iter()
            .copied()
            .min_by_key(|&e| (e - at).abs_diff(target))
            .unwrap_or(reach);
        let slack = target / 4;
        let next = (next.saturating_sub(slack).max(at + 1)..=(next + slack).min(reach))
            .filter(|&e| e < n && breaks[e] > 0)
            .max_by_key(|&e| (breaks[e], std::cmp::Reverse(e.abs_diff(next))))
            .unwrap_or(next);
        out.push(at..next);
        at = next;
    }
    out
}

#[cfg(test)]
#[allow(
    clippy::single_range_in_vec_init,
    reason = "spans are ranges: a list of one span is what these tests mean"
)]
mod tests {
    use super::*;

    /// Offsets of one-byte tokens separated by spaces: token i is bytes 2i..2i+1.
    fn words(n: usize) -> Vec<(usize, usize)> {
        (0..n).map(|i| (2 * i, 2 * i + 1)).collect()
    }

    /// The text of [`words`].
    fn text(n: usize) -> String {
        "x ".repeat(n)
    }

    #[test]
    fn windows_are_cut_at_span_edges_near_the_spans_length() {
        // Chunks of 4 tokens overlapping by half: every other chunk is a window.
        let halves: Vec<Range<usize>> = (0..=16).step_by(2).map(|a| 2 * a..2 * a + 7).collect();
        let p = plan(&text(20), &words(20), &halves, 254);
        assert_eq!(p.windows, vec![0..4, 4..8, 8..12, 12..16, 16..20]);
        assert_eq!(p.rows[2], vec![(1, 0..6)], "a chunk read as a window");
        assert_eq!(p.rows[1], vec![(0, 3..5), (1, 1..3)], "a chunk between two");
        // Chunks that do not overlap are each a window.
        let chunks = [0..7, 8..15, 16..23];
        assert_eq!(
            plan(&text(12), &words(12), &chunks, 254).windows,
            vec![0..4, 4..8, 8..12]
        );
        // Moved to a paragraph's end within a quarter of the length: word 9 follows a blank
        // line, where the cut would have been at 8.
        let broken: String = (0..20)
            .map(|i| {
                if i == 9 {
                    "\n\nx"
                } else if i == 0 {
                    "x"
                } else {
                    " x"
                }
            })
            .collect();
        let offsets: Vec<(usize, usize)> = broken
            .match_indices('x')
            .map(|(at, _)| (at, at + 1))
            .collect();
        let halves: Vec<Range<usize>> = (0..=16)
            .step_by(2)
            .map(|a| offsets[a].0..offsets[a + 3].1)
            .collect();
        let p = plan(&broken, &offsets, &halves, 254);
        assert_eq!(p.windows, vec![0..4, 4..9, 9..12, 12..16, 16..20]);
        // Never longer than the model reads, with or without an edge in reach.
        assert_eq!(
            plan(&text(10), &words(10), &[0..19], 4).windows,
            vec![0..4, 4..8, 8..10]
        );
        assert_eq!(plan(&text(3), &words(3), &[], 256).windows, vec![0..3]);
        assert!(plan("", &[], &[0..4], 4).windows.is_empty());
    }

    #[test]
    fn a_span_pools_the_tokens_it_overlaps_in_every_window_it_touches() {
        // Windows 0..3, 3..6 and 6..9 (cut at the edges of the spans of three tokens).
        let spans = [0..5, 6..11, 12..17, 4..9];
        let p = plan(&text(9), &words(9), &spans, 254);
        assert_eq!(p.windows, vec![0..3, 3..6, 6..9]);
        // Tokens 2..=4: row 3 of window 0 ([CLS] is row 0), rows 1 and 2 of window 1.
        assert_eq!(p.rows[3], vec![(0, 3..4), (1, 1..3)]);
        // A span from a space to the middle of the text: tokens 1 and 2.
        let p = plan(&text(9), &words(9), &[0..5, 6..11, 12..17, 1..5], 254);
        assert_eq!(p.rows[3], vec![(0, 2..4)]);
        // Bytes between tokens (a space) hold no token.
        assert_eq!(
            plan(&text(10), &words(10), &[1..2], 4).rows,
            vec![Vec::new()]
        );
        assert_eq!(plan("", &[], &[0..4], 4).rows, vec![Vec::new()]);
    }

    #[test]
    fn a_span_holding_a_whole_window_pools_its_cls_and_sep_too() {
        // The whole text in one window: every row, [CLS] and [SEP] included.
        assert_eq!(
            plan(&text(3), &words(3), &[0..5], 256).rows,
            vec![vec![(0, 0..5)]]
        );
        let spans = [0..5, 6..11, 12..17, 4..11];
        let p = plan(&text(9), &words(9), &spans, 254);
        assert_eq!(p.rows[0], vec![(0, 0..5)]);
        // Part of window 0 and the whole of window 1.
        assert_eq!(p.rows[3], vec![(0, 3..4), (1, 0..5)]);
    }
}
