//! Python literals and calls: the subset of pyautogui code the server interprets.

use super::*;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PyVal {
    Num(f64),
    Str(String),
    List(Vec<PyVal>),
    Other(String),
}

impl PyVal {
    pub(crate) fn as_num(&self) -> Option<i64> {
        match self {
            PyVal::Num(n) => Some(n.round() as i64),
            _ => None,
        }
    }
    pub(crate) fn as_str(&self) -> Option<String> {
        match self {
            PyVal::Str(s) => Some(s.clone()),
            _ => None,
        }
    }
    pub(crate) fn display(&self) -> String {
        match self {
            PyVal::Num(n) if n.fract() == 0.0 => format!("{}", *n as i64),
            PyVal::Num(n) => n.to_string(),
            PyVal::Str(s) => s.clone(),
            PyVal::List(l) => format!(
                "[{}]",
                l.iter().map(PyVal::display).collect::<Vec<_>>().join(", ")
            ),
            PyVal::Other(s) => s.clone(),
        }
    }
}

/// Split code into statements at top-level `;` and newlines.
pub(crate) fn split_statements(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    let mut escape = false;
    for c in code.chars() {
        if let Some(q) = quote {
            cur.push(c);
            if escape {
                escape = false;
            } else if c == '\\' {
                escape = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => {
                quote = Some(c);
                cur.push(c);
            }
            '(' | '[' | '{' => {
                depth += 1;
                cur.push(c);
            }
            ')' | ']' | '}' => {
                depth -= 1;
                cur.push(c);
            }
            ';' | '\n' if depth == 0 => out.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    out.push(cur);
    out
}

pub(crate) type Call = (String, Vec<PyVal>, BTreeMap<String, PyVal>);

/// Parse `name(args)` with literal arguments.
pub(crate) fn parse_call(s: &str) -> Option<Call> {
    let open = s.find('(')?;
    let name = s[..open].trim();
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
        || !s.ends_with(')')
    {
        return None;
    }
    let inner: Vec<char> = s[open + 1..s.len() - 1].chars().collect();
    let mut p = PyParser { s: &inner, i: 0 };
    let mut args = Vec::new();
    let mut kwargs = BTreeMap::new();
    loop {
        p.ws();
        if p.i >= p.s.len() {
            break;
        }
        // keyword?
        let save = p.i;
        let ident: String = p.s[p.i..]
            .iter()
            .take_while(|c| c.is_alphanumeric() || **c == '_')
            .collect();
        let after = p.i + ident.chars().count();
        let mut q = PyParser { s: p.s, i: after };
        q.ws();
        if !ident.is_empty() && q.s.get(q.i) == Some(&'=') && q.s.get(q.i + 1) != Some(&'=') {
            q.i += 1;
            let v = q.value()?;
            kwargs.insert(ident, v);
            p.i = q.i;
        } else {
            p.i = save;
            args.push(p.value()?);
        }
        p.ws();
        match p.s.get(p.i) {
            Some(',') => p.i += 1,
            None => break,
            _ => return None,
        }
    }
    Some((name.to_owned(), args, kwargs))
}

pub(crate) struct PyParser<'a> {
    s: &'a [char],
    i: usize,
}

impl PyParser<'_> {
    pub(crate) fn ws(&mut self) {
        while self.s.get(self.i).is_some_and(|c| c.is_whitespace()) {
            self.i += 1;
        }
    }

    pub(crate) fn value(&mut self) -> Option<PyVal> {
        self.ws();
        let c = *self.s.get(self.i)?;
        match c {
            '\'' | '"' => {
                let q = c;
                self.i += 1;
                let mut out = String::new();
                loop {
                    let c = *self.s.get(self.i)?;
                    self.i += 1;
                    match c {
                        '\\' => {
                            let e = *self.s.get(self.i)?;
                            self.i += 1;
                            match e {
                                'n' => out.push('\n'),
                                't' => out.push('\t'),
                                'r' => out.push('\r'),
                                'x' => {
                                    let h: String =
                                        self.s.get(self.i..self.i + 2)?.iter().collect();
                                    self.i += 2;
                                    out.push(char::from_u32(u32::from_str_radix(&h, 16).ok()?)?);
                                }
                                o => out.push(o),
                            }
                        }
                        c if c == q => break,
                        c => out.push(c),
                    }
                }
                Some(PyVal::Str(out))
            }
            '[' | '(' => {
                let close = if c == '[' { ']' } else { ')' };
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    self.ws();
                    if self.s.get(self.i) == Some(&close) {
                        self.i += 1;
                        break;
                    }
                    items.push(self.value()?);
                    self.ws();
                    match self.s.get(self.i) {
                        Some(',') => self.i += 1,
                        Some(c) if *c == close => {
                            self.i += 1;
                            break;
                        }
                        _ => return None,
                    }
                }
                Some(PyVal::List(items))
            }
            _ => {
                let tok: String = self.s[self.i..]
                    .iter()
                    .take_while(|c| c.is_alphanumeric() || matches!(c, '.' | '-' | '_' | '+'))
                    .collect();
                if tok.is_empty() {
                    return None;
                }
                self.i += tok.chars().count();
                Some(match tok.parse::<f64>() {
                    Ok(n) => PyVal::Num(n),
                    Err(_) => PyVal::Other(tok),
                })
            }
        }
    }
}
