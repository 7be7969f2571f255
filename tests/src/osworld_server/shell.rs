//! Shell tokens: splitting a command line as bash would.

use super::*;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    /// A word and whether any of it was quoted (no globbing).
    Word(String, bool),
    Op(&'static str),
}

pub(crate) fn tokenize(line: &str) -> Result<Vec<Tok>, String> {
    let mut toks = Vec::new();
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    let mut word = String::new();
    let mut in_word = false;
    let mut quoted = false;
    let flush = |toks: &mut Vec<Tok>, word: &mut String, in_word: &mut bool, quoted: &mut bool| {
        if *in_word {
            toks.push(Tok::Word(std::mem::take(word), *quoted));
        }
        *in_word = false;
        *quoted = false;
    };
    while i < chars.len() {
        let c = chars[i];
        let rest: String = chars[i..].iter().take(4).collect();
        match c {
            ' ' | '\t' | '\n' => {
                flush(&mut toks, &mut word, &mut in_word, &mut quoted);
                i += 1;
            }
            '#' if !in_word => break,
            '\'' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&c| c == '\'')
                    .ok_or("unexpected EOF while looking for matching `''")?;
                word.extend(&chars[i + 1..i + 1 + end]);
                in_word = true;
                quoted = true;
                i += end + 2;
            }
            '"' => {
                i += 1;
                loop {
                    let Some(&c) = chars.get(i) else {
                        return Err("unexpected EOF while looking for matching `\"'".into());
                    };
                    i += 1;
                    match c {
                        '"' => break,
                        '\\' if matches!(chars.get(i), Some('"' | '\\' | '$' | '`')) => {
                            word.push(chars[i]);
                            i += 1;
                        }
                        '$' if chars[i..].iter().take(4).collect::<String>() == "HOME" => {
                            word.push_str(HOME);
                            i += 4;
                        }
                        c => word.push(c),
                    }
                }
                in_word = true;
                quoted = true;
            }
            '\\' => {
                if let Some(&n) = chars.get(i + 1) {
                    word.push(n);
                }
                in_word = true;
                quoted = true;
                i += 2;
            }
            '~' if !in_word && matches!(chars.get(i + 1), None | Some('/') | Some(' ')) => {
                word.push_str(HOME);
                in_word = true;
                i += 1;
            }
            '$' if rest.starts_with("$HOM")
                && chars[i..].iter().take(5).collect::<String>() == "$HOME" =>
            {
                word.push_str(HOME);
                in_word = true;
                i += 5;
            }
            '&' | '|' | ';' | '>' => {
                flush(&mut toks, &mut word, &mut in_word, &mut quoted);
                let (op, n): (&'static str, usize) = if rest.starts_with("&&") {
                    ("&&", 2)
                } else if rest.starts_with("||") {
                    ("||", 2)
                } else if rest.starts_with(">>") {
                    (">>", 2)
                } else if c == '>' {
                    (">", 1)
                } else if c == '|' {
                    ("|", 1)
                } else if c == ';' {
                    (";", 1)
                } else {
                    // A lone `&` (background): run in the foreground.
                    (";", 1)
                };
                toks.push(Tok::Op(op));
                i += n;
            }
            '2' if !in_word && rest.starts_with("2>&1") => {
                toks.push(Tok::Op("2>&1"));
                i += 4;
            }
            '2' if !in_word && rest.starts_with("2>") => {
                toks.push(Tok::Op("2>"));
                i += 2;
            }
            c => {
                word.push(c);
                in_word = true;
                i += 1;
            }
        }
    }
    flush(&mut toks, &mut word, &mut in_word, &mut quoted);
    Ok(toks)
}
