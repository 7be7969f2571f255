//! The CSS selector subset of `check_accessibility_tree`, matched as lxml's
//! `CSSSelector` (cssselect's generic XML translator) matches:
//!
//! - selector lists `A, B`;
//! - combinators: descendant `A B`, child `A > B`, next sibling `A + B`, later
//!   sibling `A ~ B`;
//! - compounds of: a type `tag` or `prefix|tag` (unprefixed = no namespace),
//!   `*`, `#id` (`@id`), `.class` (a word of `@class`), and attribute conditions
//!   `[a]`, `[a=v]`, `[a~=v]`, `[a|=v]`, `[a^=v]`, `[a$=v]`, `[a*=v]`, `[a!=v]`
//!   with `a` or `prefix|a` and `v` an identifier or a quoted string.
//!
//! Pseudo-classes and pseudo-elements (`:nth-child`, `::before`, ...), namespace
//! wildcards (`*|a`) and anything else are refused with
//! [`MetricError::UnsupportedSelector`].

use roxmltree::{Document, Node};

use super::{Namespaces, QName};
use crate::error::MetricError;

/// A parsed selector list.
#[derive(Debug, Clone)]
pub struct SelectorList(Vec<Complex>);

#[derive(Debug, Clone)]
struct Complex {
    /// Compounds left to right.
    compounds: Vec<Compound>,
    /// `combinators[i]` joins `compounds[i]` and `compounds[i + 1]`.
    combinators: Vec<Combinator>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Combinator {
    Descendant,
    Child,
    NextSibling,
    LaterSibling,
}

#[derive(Debug, Clone, Default)]
struct Compound {
    /// `None` = any element.
    element: Option<QName>,
    conditions: Vec<Condition>,
}

#[derive(Debug, Clone)]
enum Condition {
    Attr(QName, Option<(AttrOp, String)>),
    Id(String),
    Class(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AttrOp {
    Equals,
    Includes,
    DashMatch,
    Prefix,
    Suffix,
    Substring,
    NotEqual,
}

impl SelectorList {
    /// Parses `selector` (the task's text, for errors), resolving namespace
    /// prefixes with `ns`.
    pub fn parse(metric: &str, selector: &str, ns: &Namespaces) -> Result<Self, MetricError> {
        let mut p = Parser {
            chars: selector.chars().collect(),
            pos: 0,
            ns,
        };
        p.list().map_err(|reason| MetricError::UnsupportedSelector {
            metric: metric.into(),
            selector: selector.into(),
            reason,
        })
    }

    /// The elements of `doc` matched by any selector of the list, in document
    /// order.
    pub fn select<'a, 'i>(&self, doc: &'a Document<'i>) -> Vec<Node<'a, 'i>> {
        doc.root()
            .descendants()
            .filter(|n| n.is_element())
            .filter(|&n| self.0.iter().any(|c| c.matches(n, c.compounds.len() - 1)))
            .collect()
    }
}

impl Complex {
    /// Whether `el` matches `compounds[idx]` with the combinators to its left.
    fn matches(&self, el: Node, idx: usize) -> bool {
        if !self.compounds[idx].matches(el) {
            return false;
        }
        if idx == 0 {
            return true;
        }
        let prev = idx - 1;
        match self.combinators[prev] {
            Combinator::Descendant => el
                .ancestors()
                .skip(1)
                .filter(|a| a.is_element())
                .any(|a| self.matches(a, prev)),
            Combinator::Child => el.parent_element().is_some_and(|p| self.matches(p, prev)),
            Combinator::NextSibling => el
                .prev_sibling_element()
                .is_some_and(|s| self.matches(s, prev)),
            Combinator::LaterSibling => el
                .prev_siblings()
                .skip(1)
                .filter(|s| s.is_element())
                .any(|s| self.matches(s, prev)),
        }
    }
}

impl Compound {
    fn matches(&self, el: Node) -> bool {
        if let Some(name) = &self.element
            && !name.names_element(el)
        {
            return false;
        }
        self.conditions.iter().all(|c| c.matches(el))
    }
}

/// Whether `word` is one of the whitespace-separated words of `value` (`~=`).
fn has_word(value: &str, word: &str) -> bool {
    !word.is_empty()
        && !word.chars().any(char::is_whitespace)
        && value.split([' ', '\t', '\n', '\r']).any(|w| w == word)
}

impl Condition {
    fn matches(&self, el: Node) -> bool {
        match self {
            Condition::Id(id) => el.attribute("id") == Some(id.as_str()),
            Condition::Class(c) => el.attribute("class").is_some_and(|v| has_word(v, c)),
            Condition::Attr(name, test) => {
                let value = name.attribute(el);
                let Some((op, want)) = test else {
                    return value.is_some();
                };
                let want = want.as_str();
                match (op, value) {
                    (AttrOp::NotEqual, v) => v != Some(want),
                    (_, None) => false,
                    (AttrOp::Equals, Some(v)) => v == want,
                    (AttrOp::Includes, Some(v)) => has_word(v, want),
                    (AttrOp::DashMatch, Some(v)) => {
                        v == want || v.strip_prefix(want).is_some_and(|r| r.starts_with('-'))
                    }
                    (AttrOp::Prefix, Some(v)) => !want.is_empty() && v.starts_with(want),
                    (AttrOp::Suffix, Some(v)) => !want.is_empty() && v.ends_with(want),
                    (AttrOp::Substring, Some(v)) => !want.is_empty() && v.contains(want),
                }
            }
        }
    }
}

struct Parser<'n> {
    chars: Vec<char>,
    pos: usize,
    ns: &'n Namespaces,
}

type Parse<T> = Result<T, String>;

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-' || !c.is_ascii()
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, k: usize) -> Option<char> {
        self.chars.get(self.pos + k).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn skip_ws(&mut self) -> bool {
        let start = self.pos;
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
        self.pos > start
    }

    fn here(&self) -> String {
        match self.peek() {
            Some(c) => format!("`{c}` at offset {}", self.pos),
            None => "the end".into(),
        }
    }

    fn list(&mut self) -> Parse<SelectorList> {
        let mut out = Vec::new();
        loop {
            self.skip_ws();
            out.push(self.complex()?);
            self.skip_ws();
            if self.peek().is_none() {
                return Ok(SelectorList(out));
            }
            if !self.eat(',') {
                return Err(format!("unexpected {}", self.here()));
            }
        }
    }

    fn complex(&mut self) -> Parse<Complex> {
        let mut c = Complex {
            compounds: vec![self.compound()?],
            combinators: Vec::new(),
        };
        loop {
            let spaced = self.skip_ws();
            let comb = match self.peek() {
                None | Some(',') => break,
                Some('>') => Combinator::Child,
                Some('+') => Combinator::NextSibling,
                Some('~') => Combinator::LaterSibling,
                Some(':') => {
                    return Err(format!(
                        "pseudo-classes and pseudo-elements (at offset {}) are outside the supported subset",
                        self.pos
                    ));
                }
                Some(_) if spaced => Combinator::Descendant,
                Some(_) => return Err(format!("unexpected {}", self.here())),
            };
            if comb != Combinator::Descendant {
                self.pos += 1;
                self.skip_ws();
            }
            c.combinators.push(comb);
            c.compounds.push(self.compound()?);
        }
        Ok(c)
    }

    fn compound(&mut self) -> Parse<Compound> {
        let mut c = Compound::default();
        let mut any = false;
        if self.eat('*') {
            if self.peek() == Some('|') {
                return Err("namespace wildcards (`*|`) are outside the supported subset".into());
            }
            any = true;
        } else if self.peek().is_some_and(is_ident_char) || self.peek() == Some('\\') {
            c.element = Some(self.qname()?);
            any = true;
        }
        loop {
            match self.peek() {
                Some('[') => {
                    self.pos += 1;
                    c.conditions.push(self.attribute()?);
                }
                Some('#') => {
                    self.pos += 1;
                    c.conditions.push(Condition::Id(self.ident()?));
                }
                Some('.') => {
                    self.pos += 1;
                    c.conditions.push(Condition::Class(self.ident()?));
                }
                _ => break,
            }
            any = true;
        }
        if !any {
            return Err(match self.peek() {
                Some(':') => format!(
                    "pseudo-classes and pseudo-elements (at offset {}) are outside the supported subset",
                    self.pos
                ),
                _ => format!("expected a selector, found {}", self.here()),
            });
        }
        Ok(c)
    }

    /// `name` or `prefix|name` (a `|` followed by `=` is the `|=` operator).
    fn qname(&mut self) -> Parse<QName> {
        let first = self.ident()?;
        if self.peek() == Some('|') && self.peek_at(1) != Some('=') {
            self.pos += 1;
            let local = self.ident()?;
            let uri = self
                .ns
                .resolve(&first)
                .ok_or_else(|| format!("unknown namespace prefix `{first}`"))?;
            return Ok(QName {
                ns: Some(uri.into()),
                local,
            });
        }
        Ok(QName {
            ns: None,
            local: first,
        })
    }

    fn attribute(&mut self) -> Parse<Condition> {
        self.skip_ws();
        let name = self.qname()?;
        self.skip_ws();
        if self.eat(']') {
            return Ok(Condition::Attr(name, None));
        }
        let op = match (self.peek(), self.peek_at(1)) {
            (Some('='), _) => AttrOp::Equals,
            (Some('~'), Some('=')) => AttrOp::Includes,
            (Some('|'), Some('=')) => AttrOp::DashMatch,
            (Some('^'), Some('=')) => AttrOp::Prefix,
            (Some('$'), Some('=')) => AttrOp::Suffix,
            (Some('*'), Some('=')) => AttrOp::Substring,
            (Some('!'), Some('=')) => AttrOp::NotEqual,
            _ => {
                return Err(format!(
                    "expected an attribute operator, found {}",
                    self.here()
                ));
            }
        };
        self.pos += if op == AttrOp::Equals { 1 } else { 2 };
        self.skip_ws();
        let value = match self.peek() {
            Some(q @ ('"' | '\'')) => {
                self.pos += 1;
                self.string(q)?
            }
            _ => self.ident()?,
        };
        self.skip_ws();
        if !self.eat(']') {
            return Err(format!("expected `]`, found {}", self.here()));
        }
        Ok(Condition::Attr(name, Some((op, value))))
    }

    /// An identifier with CSS escapes.
    fn ident(&mut self) -> Parse<String> {
        let mut out = String::new();
        loop {
            match self.peek() {
                Some('\\') => {
                    self.pos += 1;
                    out.push(self.escape()?);
                }
                Some(c) if is_ident_char(c) => {
                    self.pos += 1;
                    out.push(c);
                }
                _ => break,
            }
        }
        if out.is_empty() {
            return Err(format!("expected an identifier, found {}", self.here()));
        }
        Ok(out)
    }

    /// A quoted string after its opening quote.
    fn string(&mut self, quote: char) -> Parse<String> {
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err("unterminated string".into()),
                Some(c) if c == quote => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some('\\') => {
                    self.pos += 1;
                    if self.eat('\n') {
                        continue;
                    }
                    out.push(self.escape()?);
                }
                Some(c) => {
                    self.pos += 1;
                    out.push(c);
                }
            }
        }
    }

    /// A CSS escape after its backslash: up to 6 hex digits (and one optional
    /// space), or any other character as itself.
    fn escape(&mut self) -> Parse<char> {
        let start = self.pos;
        while self.pos - start < 6 && self.peek().is_some_and(|c| c.is_ascii_hexdigit()) {
            self.pos += 1;
        }
        if self.pos > start {
            let hex: String = self.chars[start..self.pos].iter().collect();
            self.skip_one_space();
            let code = u32::from_str_radix(&hex, 16).map_err(|e| e.to_string())?;
            return Ok(char::from_u32(code).unwrap_or('\u{fffd}'));
        }
        let c = self.peek().ok_or("a backslash at the end")?;
        self.pos += 1;
        Ok(c)
    }

    fn skip_one_space(&mut self) {
        if self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns() -> Namespaces {
        Namespaces::for_os("ubuntu").unwrap()
    }

    fn names(selector: &str, xml: &str) -> Vec<String> {
        let doc = Document::parse(xml).unwrap();
        SelectorList::parse("m", selector, &ns())
            .unwrap()
            .select(&doc)
            .iter()
            .map(|n| n.attribute("name").unwrap_or("?").to_owned())
            .collect()
    }

    const TREE: &str = r#"<r name="r" xmlns:attr="https://accessibility.ubuntu.example.org/ns/attributes">
        <a name="a1" class="x  y" id="one"><b name="b1" lang="en-US"/><c name="c1"/><b name="b2"/></a>
        <a name="a2" attr:class="pill"><c name="c2"/><d name="d2"><b name="b3"/></d></a>
    </r>"#;

    #[test]
    fn combinators() {
        assert_eq!(names("a b", TREE), vec!["b1", "b2", "b3"]);
        assert_eq!(names("a > b", TREE), vec!["b1", "b2"]);
        assert_eq!(names("b + c", TREE), vec!["c1"]);
        assert_eq!(names("c ~ b", TREE), vec!["b2"]);
        assert_eq!(names("c~*", TREE), vec!["b2", "d2"]);
        assert_eq!(names("r a>d b", TREE), vec!["b3"]);
        assert_eq!(names("c, d", TREE), vec!["c1", "c2", "d2"]);
        assert_eq!(names("*", TREE).len(), 9);
    }

    #[test]
    fn attribute_conditions() {
        assert_eq!(names("[name=b2]", TREE), vec!["b2"]);
        assert_eq!(names("[name='b2']", TREE), vec!["b2"]);
        assert_eq!(names("a[class~=y]", TREE), vec!["a1"]);
        assert_eq!(names("a.x", TREE), vec!["a1"]);
        assert_eq!(names("#one", TREE), vec!["a1"]);
        assert_eq!(names("[lang|=en]", TREE), vec!["b1"]);
        assert_eq!(names("[name^=b]", TREE), vec!["b1", "b2", "b3"]);
        assert_eq!(names("[name$=\"2\"]", TREE), vec!["b2", "a2", "c2", "d2"]);
        assert_eq!(names("[name*=\"\"]", TREE), Vec::<String>::new());
        assert_eq!(names("a[name!=a1]", TREE), vec!["a2"]);
        assert_eq!(names("[attr|class=pill]", TREE), vec!["a2"]);
        // Unprefixed attributes are in no namespace.
        assert_eq!(names("[class=pill]", TREE), Vec::<String>::new());
        assert_eq!(names("[lang]", TREE), vec!["b1"]);
        assert_eq!(names("[name=\\62 1]", TREE), vec!["b1"]);
    }

    #[test]
    fn refused_forms_name_the_problem() {
        for (sel, why) in [
            ("a:first-child", "pseudo"),
            ("a::before", "pseudo"),
            ("*|a", "wildcard"),
            ("foo|a", "unknown namespace prefix `foo`"),
            ("a[name=", "identifier"),
            ("a[name=\"x]", "unterminated"),
            ("a >", "expected a selector"),
            ("a )", "expected a selector"),
            ("a)", "unexpected"),
        ] {
            let e = SelectorList::parse("check_accessibility_tree", sel, &ns()).unwrap_err();
            let msg = e.to_string();
            assert!(msg.contains(why), "{sel}: {msg}");
            assert!(msg.contains(sel), "{sel}: {msg}");
        }
    }
}
