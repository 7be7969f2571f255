//! Graded similarity metrics: `fuzzy_match` (rapidfuzz's `fuzz.ratio`, the
//! normalized Indel similarity) and `diff_text_file` (difflib's
//! `SequenceMatcher.ratio` over lines), with both similarity measures implemented
//! here to give Python's numbers.

use std::collections::HashMap;

use serde_json::Value;

use super::{Args, Scorer, result_text};
use crate::error::MetricError;
use crate::py;

/// rapidfuzz `fuzz.ratio(a, b)`: `100 · (1 − indel(a, b) / (|a| + |b|))` over Unicode
/// code points, where the Indel distance counts insertions and deletions
/// (`|a| + |b| − 2·LCS`); 100 for two empty strings.
pub fn fuzz_ratio(a: &str, b: &str) -> f64 {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let lensum = a.len() + b.len();
    if lensum == 0 {
        return 100.0;
    }
    let dist = lensum - 2 * lcs_len(&a, &b);
    (1.0 - dist as f64 / lensum as f64) * 100.0
}

/// Length of the longest common subsequence, bit-parallel (Hyyrö 2004):
/// O(⌈|a|/64⌉·|b|).
pub fn lcs_len(a: &[char], b: &[char]) -> usize {
    if a.is_empty() || b.is_empty() {
        return 0;
    }
    let words = a.len().div_ceil(64);
    let mut masks: HashMap<char, Vec<u64>> = HashMap::new();
    for (i, &c) in a.iter().enumerate() {
        masks.entry(c).or_insert_with(|| vec![0; words])[i / 64] |= 1 << (i % 64);
    }
    // Zero bits of `v` (within |a| bits) mark LCS positions.
    let mut v = vec![u64::MAX; words];
    let zero = vec![0u64; words];
    for c in b {
        let m = masks.get(c).unwrap_or(&zero);
        let mut carry = false;
        for w in 0..words {
            let u = v[w] & m[w];
            let (s1, c1) = v[w].overflowing_add(u);
            let (s2, c2) = s1.overflowing_add(u64::from(carry));
            carry = c1 || c2;
            v[w] = s2 | (v[w] & !m[w]);
        }
    }
    let tail = a.len() % 64;
    v.iter()
        .enumerate()
        .map(|(w, &x)| {
            let x = if w == words - 1 && tail != 0 {
                x | (u64::MAX << tail)
            } else {
                x
            };
            x.count_zeros() as usize
        })
        .sum()
}

/// difflib `SequenceMatcher(None, a, b).ratio()`: `2·M / (|a| + |b|)` where M is
/// the size of the matching blocks found by Python's recursive longest-match
/// search, including its "autojunk" rule (for |b| ≥ 200, items of b occurring more
/// than |b|/100 + 1 times never start a match); 1.0 for two empty sequences.
pub fn sequence_ratio(a: &[&str], b: &[&str]) -> f64 {
    let total = a.len() + b.len();
    if total == 0 {
        return 1.0;
    }
    let mut b2j: HashMap<&str, Vec<usize>> = HashMap::new();
    for (j, &line) in b.iter().enumerate() {
        b2j.entry(line).or_default().push(j);
    }
    if b.len() >= 200 {
        let limit = b.len() / 100 + 1;
        b2j.retain(|_, js| js.len() <= limit);
    }
    let m = Matcher { a, b, b2j };
    let mut matched = 0;
    let mut queue = vec![(0, a.len(), 0, b.len())];
    while let Some((alo, ahi, blo, bhi)) = queue.pop() {
        let (i, j, k) = m.longest_match(alo, ahi, blo, bhi);
        if k > 0 {
            matched += k;
            if alo < i && blo < j {
                queue.push((alo, i, blo, j));
            }
            if i + k < ahi && j + k < bhi {
                queue.push((i + k, ahi, j + k, bhi));
            }
        }
    }
    2.0 * matched as f64 / total as f64
}

struct Matcher<'a> {
    a: &'a [&'a str],
    b: &'a [&'a str],
    b2j: HashMap<&'a str, Vec<usize>>,
}

impl Matcher<'_> {
    /// `SequenceMatcher.find_longest_match` without a junk function: the longest
    /// block (earliest in a, then in b, on ties), extended over "popular" items.
    fn longest_match(
        &self,
        alo: usize,
        ahi: usize,
        blo: usize,
        bhi: usize,
    ) -> (usize, usize, usize) {
        let (mut besti, mut bestj, mut bestsize) = (alo, blo, 0);
        // j2len[j] = length of the match ending at a[i - 1], b[j].
        let mut j2len: HashMap<usize, usize> = HashMap::new();
        for i in alo..ahi {
            let mut next: HashMap<usize, usize> = HashMap::new();
            if let Some(js) = self.b2j.get(self.a[i]) {
                for &j in js {
                    if j < blo {
                        continue;
                    }
                    if j >= bhi {
                        break;
                    }
                    let k = j.checked_sub(1).and_then(|p| j2len.get(&p)).unwrap_or(&0) + 1;
                    next.insert(j, k);
                    if k > bestsize {
                        besti = i + 1 - k;
                        bestj = j + 1 - k;
                        bestsize = k;
                    }
                }
            }
            j2len = next;
        }
        while besti > alo && bestj > blo && self.a[besti - 1] == self.b[bestj - 1] {
            besti -= 1;
            bestj -= 1;
            bestsize += 1;
        }
        while besti + bestsize < ahi
            && bestj + bestsize < bhi
            && self.a[besti + bestsize] == self.b[bestj + bestsize]
        {
            bestsize += 1;
        }
        (besti, bestj, bestsize)
    }
}

/// `fuzzy_match(result, rules)`: `fuzz.ratio(result, rules["expected"]) / 100`, a
/// graded score in [0, 1].
pub fn fuzzy_match(a: &Args) -> Result<Box<dyn Scorer>, MetricError> {
    a.allow_options(&[])?;
    let expected = match a.rule("expected")? {
        Value::String(s) => s.clone(),
        v => return Err(a.bad_expected("expected", &format!("must be a string, got {v}"))),
    };
    let metric = a.metric.to_owned();
    Ok(Box::new(move |r: &Value| {
        Ok(fuzz_ratio(result_text(&metric, r)?, &expected) / 100.0)
    }))
}

/// `diff_text_file(result, expected)`: the SequenceMatcher ratio between the lines
/// (`str.splitlines()`) of the result file and of the gold file, a graded score.
pub fn diff_text_file(a: &Args) -> Result<Box<dyn Scorer>, MetricError> {
    a.allow_options(&[])?;
    let gold = py::read_text(a.expected_text()?).into_owned();
    let metric = a.metric.to_owned();
    Ok(Box::new(move |r: &Value| {
        let text = py::read_text(result_text(&metric, r)?);
        Ok(sequence_ratio(
            &py::splitlines(&text),
            &py::splitlines(&gold),
        ))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::evaluate;
    use serde_json::{Map, json};

    /// Plain O(n·m) LCS, to check the bit-parallel one.
    fn lcs_dp(a: &[char], b: &[char]) -> usize {
        let mut prev = vec![0; b.len() + 1];
        for x in a {
            let mut cur = vec![0; b.len() + 1];
            for (j, y) in b.iter().enumerate() {
                cur[j + 1] = if x == y {
                    prev[j] + 1
                } else {
                    cur[j].max(prev[j + 1])
                };
            }
            prev = cur;
        }
        prev[b.len()]
    }

    #[test]
    fn fuzz_ratio_matches_rapidfuzz() {
        // Reference values printed by rapidfuzz 3.14 `fuzz.ratio`.
        assert_eq!(fuzz_ratio("", ""), 100.0);
        assert_eq!(fuzz_ratio("a", ""), 0.0);
        assert_eq!(
            fuzz_ratio("this is a test", "this is a test!"),
            96.55172413793103
        );
        assert_eq!(fuzz_ratio("kitten", "sitting"), 61.53846153846154);
        assert_eq!(fuzz_ratio("Hello", "hello"), 80.0);
        assert_eq!(fuzz_ratio("Zürich", "Zurich"), 83.33333333333334);
    }

    #[test]
    fn bit_parallel_lcs_agrees_with_dp() {
        // Deterministic pseudo-random strings over a small alphabet, across the
        // 64-bit word boundary.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..200 {
            let la = (next() % 150) as usize;
            let lb = (next() % 150) as usize;
            let a: Vec<char> = (0..la)
                .map(|_| (b'a' + (next() % 4) as u8) as char)
                .collect();
            let b: Vec<char> = (0..lb)
                .map(|_| (b'a' + (next() % 4) as u8) as char)
                .collect();
            assert_eq!(lcs_len(&a, &b), lcs_dp(&a, &b), "{a:?} {b:?}");
        }
    }

    #[test]
    fn sequence_ratio_matches_difflib() {
        // Reference values printed by CPython 3.11 difflib.
        assert_eq!(sequence_ratio(&[], &[]), 1.0);
        assert_eq!(sequence_ratio(&["a"], &[]), 0.0);
        let a = ["a", "b", "c", "d"];
        let b = ["a", "x", "c", "d", "e"];
        assert_eq!(sequence_ratio(&a, &b), 0.6666666666666666);
        // Repeated blocks: the first longest match splits the rest.
        let a = ["x", "a", "b", "y", "a", "b"];
        let b = ["a", "b", "x", "y"];
        assert_eq!(sequence_ratio(&a, &b), 0.6);
    }

    #[test]
    fn sequence_ratio_autojunk() {
        // b has 300 lines: "pad" 250 times and "x" 50 times, both more than
        // 300/100 + 1: popular, so neither starts a match; difflib still extends the
        // empty match at (0, 0) forward over equal items.
        let mut b: Vec<&str> = vec!["pad"; 250];
        b.extend(std::iter::repeat_n("x", 50));
        let a: Vec<&str> = vec!["pad"; 10];
        assert_eq!(sequence_ratio(&a, &b), 0.06451612903225806);
        let a = ["pad", "x"];
        let b2: Vec<&str> = ["x", "pad"]
            .iter()
            .copied()
            .chain(b.iter().copied())
            .collect();
        assert_eq!(sequence_ratio(&a, &b2), 0.0);
        // Without autojunk (|b| < 200) the same a finds its match.
        assert_eq!(sequence_ratio(&a, &["x", "pad", "x"]), 0.8);
    }

    #[test]
    fn fuzzy_match_metric() {
        let rules = json!({"expected": "this is a test"});
        let s = evaluate(
            "fuzzy_match",
            &json!("this is a test!"),
            Some(&rules),
            &Map::new(),
        )
        .unwrap();
        assert_eq!(s, 0.9655172413793103);
        assert_eq!(
            evaluate(
                "fuzzy_match",
                &json!("this is a test"),
                Some(&rules),
                &Map::new()
            ),
            Ok(1.0)
        );
        assert!(evaluate("fuzzy_match", &json!(3), Some(&rules), &Map::new()).is_err());
        assert!(
            evaluate(
                "fuzzy_match",
                &json!("x"),
                Some(&json!({"expected": 3})),
                &Map::new()
            )
            .is_err()
        );
    }

    #[test]
    fn diff_text_file_metric() {
        // multi_apps 788b3701-3ec9-4b67-b679-418bfa726c22: a LaTeX chapter against
        // the gold one (contents rewritten).
        let gold = "\\section{Early Buildings}\nThe main building.\nThe library.\n";
        let same_crlf = "\\section{Early Buildings}\r\nThe main building.\r\nThe library.\r\n";
        assert_eq!(
            evaluate(
                "diff_text_file",
                &json!(same_crlf),
                Some(&json!(gold)),
                &Map::new()
            ),
            Ok(1.0)
        );
        let partial = "\\section{Early Buildings}\nThe gym.\nThe library.\n";
        let s = evaluate(
            "diff_text_file",
            &json!(partial),
            Some(&json!(gold)),
            &Map::new(),
        )
        .unwrap();
        assert_eq!(s, 2.0 * 2.0 / 6.0);
        assert_eq!(
            evaluate(
                "diff_text_file",
                &json!(""),
                Some(&json!(gold)),
                &Map::new()
            ),
            Ok(0.0)
        );
        let e = evaluate(
            "diff_text_file",
            &json!("x"),
            Some(&json!({"a": 1})),
            &Map::new(),
        )
        .unwrap_err();
        assert!(matches!(e, MetricError::BadExpected { .. }), "{e}");
    }
}
