//! The XPath 1.0 subset of `check_accessibility_tree`, evaluated as lxml evaluates
//! `tree.xpath(expr)` with the tree's root element as the context node:
//!
//! - location paths of element steps: absolute `/a/b`, relative `a/b` (from the
//!   root element), `//` anywhere (`//a`, `a//b`), `.` (the context element);
//! - node tests: `name`, `prefix:name` (unprefixed = no namespace), `*`;
//! - predicates, several per step: a position `[2]`, `[last()]`, `@a` (exists),
//!   `text()` (exists), comparisons `@a = 'v'`, `@a != 'v'`, `text() = 'v'`,
//!   `. = 'v'`, the functions `contains(x, 'v')` and `starts-with(x, 'v')` with x
//!   one of `@a`, `text()`, `.`, combined with `and`, `or`, `not(...)` and
//!   parentheses.
//!
//! Other axes (`..`, `following-sibling::`), paths that select attributes or text,
//! other functions and anything else are refused with
//! [`MetricError::UnsupportedSelector`].

use roxmltree::{Document, Node};

use super::{Namespaces, QName};
use crate::error::MetricError;

/// A parsed location path.
#[derive(Debug, Clone)]
pub struct Path {
    absolute: bool,
    steps: Vec<Step>,
}

#[derive(Debug, Clone)]
struct Step {
    /// The step came after `//`: it applies to every descendant-or-self.
    deep: bool,
    kind: StepKind,
    predicates: Vec<Expr>,
}

#[derive(Debug, Clone)]
enum StepKind {
    /// `.`
    SelfNode,
    /// `*`
    AnyElement,
    /// `name` / `prefix:name`
    Element(QName),
}

#[derive(Debug, Clone)]
enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Position(usize),
    Last,
    Exists(Operand),
    Equals(Operand, String),
    NotEquals(Operand, String),
    Contains(Operand, String),
    StartsWith(Operand, String),
}

#[derive(Debug, Clone)]
enum Operand {
    Attr(QName),
    Text,
    Dot,
}

impl Path {
    /// Parses `expr` (the task's text, for errors), resolving namespace prefixes
    /// with `ns`.
    pub fn parse(metric: &str, expr: &str, ns: &Namespaces) -> Result<Self, MetricError> {
        let unsupported = |reason: String| MetricError::UnsupportedSelector {
            metric: metric.into(),
            selector: expr.into(),
            reason,
        };
        let tokens = lex(expr).map_err(unsupported)?;
        let mut p = Parser { tokens, pos: 0, ns };
        p.path().map_err(unsupported)
    }

    /// The elements the path selects, in document order.
    pub fn select<'a, 'i>(&self, doc: &'a Document<'i>) -> Vec<Node<'a, 'i>> {
        let mut context = vec![if self.absolute {
            doc.root()
        } else {
            doc.root_element()
        }];
        for step in &self.steps {
            let mut next: Vec<Node> = Vec::new();
            for &n in &context {
                let bases: Vec<Node> = if step.deep {
                    n.descendants().collect()
                } else {
                    vec![n]
                };
                for base in bases {
                    next.extend(step.apply(base));
                }
            }
            next.sort_by_key(|n| n.id().get());
            next.dedup_by_key(|n| n.id().get());
            context = next;
        }
        context.into_iter().filter(|n| n.is_element()).collect()
    }
}

impl Step {
    /// The nodes this step selects from one context node, predicates applied.
    fn apply<'a, 'i>(&self, n: Node<'a, 'i>) -> Vec<Node<'a, 'i>> {
        let mut nodes: Vec<Node> = match &self.kind {
            StepKind::SelfNode => vec![n],
            StepKind::AnyElement => n.children().filter(|c| c.is_element()).collect(),
            StepKind::Element(q) => n.children().filter(|&c| q.names_element(c)).collect(),
        };
        for pred in &self.predicates {
            let size = nodes.len();
            nodes = nodes
                .into_iter()
                .enumerate()
                .filter(|&(i, node)| pred.eval(node, i + 1, size))
                .map(|(_, node)| node)
                .collect();
        }
        nodes
    }
}

/// The string-value of an element: all its descendant text.
fn string_value(n: Node) -> String {
    n.descendants()
        .filter(|d| d.is_text())
        .filter_map(|d| d.text())
        .collect()
}

impl Operand {
    /// The node-set's string values (attribute: 0 or 1; text(): each child text
    /// node; `.`: the element's string-value).
    fn values(&self, n: Node) -> Vec<String> {
        match self {
            Operand::Attr(q) => q.attribute(n).map(str::to_owned).into_iter().collect(),
            Operand::Text => n
                .children()
                .filter(|c| c.is_text())
                .filter_map(|c| c.text().map(str::to_owned))
                .collect(),
            Operand::Dot => vec![string_value(n)],
        }
    }

    /// XPath `string(x)`: the first node's value, or "".
    fn string(&self, n: Node) -> String {
        self.values(n).into_iter().next().unwrap_or_default()
    }
}

impl Expr {
    fn eval(&self, n: Node, pos: usize, size: usize) -> bool {
        match self {
            Expr::Or(a, b) => a.eval(n, pos, size) || b.eval(n, pos, size),
            Expr::And(a, b) => a.eval(n, pos, size) && b.eval(n, pos, size),
            Expr::Not(e) => !e.eval(n, pos, size),
            Expr::Position(k) => pos == *k,
            Expr::Last => pos == size,
            Expr::Exists(o) => !o.values(n).is_empty(),
            Expr::Equals(o, v) => o.values(n).iter().any(|x| x == v),
            Expr::NotEquals(o, v) => o.values(n).iter().any(|x| x != v),
            Expr::Contains(o, v) => o.string(n).contains(v.as_str()),
            Expr::StartsWith(o, v) => o.string(n).starts_with(v.as_str()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Slash,
    DoubleSlash,
    LBracket,
    RBracket,
    LParen,
    RParen,
    At,
    Comma,
    Eq,
    NotEq,
    Star,
    Dot,
    DotDot,
    Name(String),
    Literal(String),
    Number(String),
    Other(char),
}

fn is_name_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '_' | '-' | '.')
}

fn lex(s: &str) -> Result<Vec<Token>, String> {
    let cs: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        let c = cs[i];
        let next = cs.get(i + 1).copied();
        i += 1;
        out.push(match c {
            c if c.is_whitespace() => continue,
            '/' if next == Some('/') => {
                i += 1;
                Token::DoubleSlash
            }
            '/' => Token::Slash,
            '[' => Token::LBracket,
            ']' => Token::RBracket,
            '(' => Token::LParen,
            ')' => Token::RParen,
            '@' => Token::At,
            ',' => Token::Comma,
            '=' => Token::Eq,
            '!' if next == Some('=') => {
                i += 1;
                Token::NotEq
            }
            '*' => Token::Star,
            '.' if next == Some('.') => {
                i += 1;
                Token::DotDot
            }
            '.' if next.is_some_and(|d| d.is_ascii_digit()) => {
                return Err("decimal numbers are outside the supported subset".into());
            }
            '.' => Token::Dot,
            q @ ('"' | '\'') => {
                let start = i;
                while i < cs.len() && cs[i] != q {
                    i += 1;
                }
                if i == cs.len() {
                    return Err("unterminated string literal".into());
                }
                let lit: String = cs[start..i].iter().collect();
                i += 1;
                Token::Literal(lit)
            }
            d if d.is_ascii_digit() => {
                let start = i - 1;
                while i < cs.len() && cs[i].is_ascii_digit() {
                    i += 1;
                }
                Token::Number(cs[start..i].iter().collect())
            }
            c if is_name_start(c) => {
                let start = i - 1;
                while i < cs.len() && is_name_char(cs[i]) {
                    i += 1;
                }
                // A `prefix:name`; `::` (an axis) stays for the parser to refuse.
                if i + 1 < cs.len() && cs[i] == ':' && cs[i + 1] != ':' && is_name_start(cs[i + 1])
                {
                    i += 1;
                    while i < cs.len() && is_name_char(cs[i]) {
                        i += 1;
                    }
                }
                Token::Name(cs[start..i].iter().collect())
            }
            other => Token::Other(other),
        });
    }
    Ok(out)
}

struct Parser<'n> {
    tokens: Vec<Token>,
    pos: usize,
    ns: &'n Namespaces,
}

type Parse<T> = Result<T, String>;

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn peek_at(&self, k: usize) -> Option<&Token> {
        self.tokens.get(self.pos + k)
    }

    fn eat(&mut self, t: &Token) -> bool {
        if self.peek() == Some(t) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, t: &Token, what: &str) -> Parse<()> {
        if self.eat(t) {
            Ok(())
        } else {
            Err(format!("expected {what}, found {}", self.describe()))
        }
    }

    fn describe(&self) -> String {
        match self.peek() {
            None => "the end".into(),
            Some(Token::Name(n)) => format!("`{n}`"),
            Some(Token::Literal(l)) => format!("'{l}'"),
            Some(Token::Number(n)) => n.clone(),
            Some(Token::Other(c)) => format!("`{c}`"),
            Some(t) => format!("{t:?}"),
        }
    }

    fn path(&mut self) -> Parse<Path> {
        let (absolute, mut deep) = match self.peek() {
            Some(Token::Slash) => (true, false),
            Some(Token::DoubleSlash) => (true, true),
            _ => (false, false),
        };
        if absolute {
            self.pos += 1;
        }
        let mut steps = Vec::new();
        loop {
            steps.push(self.step(deep)?);
            match self.peek() {
                None => break,
                Some(Token::Slash) => deep = false,
                Some(Token::DoubleSlash) => deep = true,
                _ => return Err(format!("unexpected {}", self.describe())),
            }
            self.pos += 1;
        }
        Ok(Path { absolute, steps })
    }

    fn step(&mut self, deep: bool) -> Parse<Step> {
        let kind = match self.peek().cloned() {
            Some(Token::Dot) => StepKind::SelfNode,
            Some(Token::Star) => StepKind::AnyElement,
            Some(Token::Name(n)) => {
                if self.peek_at(1) == Some(&Token::LParen) {
                    return Err(format!(
                        "`{n}()` as a step (a path must select elements) is outside the supported subset"
                    ));
                }
                if self.peek_at(1) == Some(&Token::Other(':')) {
                    return Err(format!("the axis `{n}::` is outside the supported subset"));
                }
                StepKind::Element(self.qname(&n)?)
            }
            Some(Token::DotDot) => {
                return Err("`..` (the parent axis) is outside the supported subset".into());
            }
            Some(Token::At) => {
                return Err(
                    "a path selecting attributes (`@`) is outside the supported subset".into(),
                );
            }
            _ => return Err(format!("expected a step, found {}", self.describe())),
        };
        self.pos += 1;
        let mut predicates = Vec::new();
        while self.eat(&Token::LBracket) {
            predicates.push(self.or_expr()?);
            self.expect(&Token::RBracket, "`]`")?;
        }
        Ok(Step {
            deep,
            kind,
            predicates,
        })
    }

    fn qname(&self, n: &str) -> Parse<QName> {
        match n.split_once(':') {
            Some((prefix, local)) => {
                let uri = self
                    .ns
                    .resolve(prefix)
                    .ok_or_else(|| format!("unknown namespace prefix `{prefix}`"))?;
                Ok(QName {
                    ns: Some(uri.into()),
                    local: local.into(),
                })
            }
            None => Ok(QName {
                ns: None,
                local: n.into(),
            }),
        }
    }

    fn keyword(&mut self, k: &str) -> bool {
        if matches!(self.peek(), Some(Token::Name(n)) if n == k) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn or_expr(&mut self) -> Parse<Expr> {
        let mut e = self.and_expr()?;
        while self.keyword("or") {
            e = Expr::Or(Box::new(e), Box::new(self.and_expr()?));
        }
        Ok(e)
    }

    fn and_expr(&mut self) -> Parse<Expr> {
        let mut e = self.unary()?;
        while self.keyword("and") {
            e = Expr::And(Box::new(e), Box::new(self.unary()?));
        }
        Ok(e)
    }

    fn unary(&mut self) -> Parse<Expr> {
        match self.peek().cloned() {
            Some(Token::LParen) => {
                self.pos += 1;
                let e = self.or_expr()?;
                self.expect(&Token::RParen, "`)`")?;
                Ok(e)
            }
            Some(Token::Number(n)) => {
                self.pos += 1;
                let k: usize = n
                    .parse()
                    .map_err(|_| format!("position `{n}` is too large"))?;
                Ok(Expr::Position(k))
            }
            Some(Token::Name(f)) if self.peek_at(1) == Some(&Token::LParen) => {
                self.pos += 2;
                match f.as_str() {
                    "last" => {
                        self.expect(&Token::RParen, "`)`")?;
                        Ok(Expr::Last)
                    }
                    "not" => {
                        let e = self.or_expr()?;
                        self.expect(&Token::RParen, "`)`")?;
                        Ok(Expr::Not(Box::new(e)))
                    }
                    "contains" | "starts-with" => {
                        let o = self.operand()?;
                        self.expect(&Token::Comma, "`,`")?;
                        let Some(Token::Literal(v)) = self.peek().cloned() else {
                            return Err(format!(
                                "the second argument of {f}() must be a string literal, found {}",
                                self.describe()
                            ));
                        };
                        self.pos += 1;
                        self.expect(&Token::RParen, "`)`")?;
                        Ok(if f == "contains" {
                            Expr::Contains(o, v)
                        } else {
                            Expr::StartsWith(o, v)
                        })
                    }
                    "text" => {
                        self.pos -= 2;
                        self.comparison()
                    }
                    other => Err(format!(
                        "the function `{other}()` is outside the supported subset"
                    )),
                }
            }
            _ => self.comparison(),
        }
    }

    fn comparison(&mut self) -> Parse<Expr> {
        let o = self.operand()?;
        let negate = match self.peek() {
            Some(Token::Eq) => false,
            Some(Token::NotEq) => true,
            Some(Token::Other(c @ ('<' | '>'))) => {
                return Err(format!(
                    "the comparison `{c}` is outside the supported subset"
                ));
            }
            _ => return Ok(Expr::Exists(o)),
        };
        self.pos += 1;
        let Some(Token::Literal(v)) = self.peek().cloned() else {
            return Err(format!(
                "a comparison must be with a string literal, found {}",
                self.describe()
            ));
        };
        self.pos += 1;
        Ok(if negate {
            Expr::NotEquals(o, v)
        } else {
            Expr::Equals(o, v)
        })
    }

    fn operand(&mut self) -> Parse<Operand> {
        match self.peek().cloned() {
            Some(Token::At) => {
                self.pos += 1;
                match self.peek().cloned() {
                    Some(Token::Name(n)) => {
                        self.pos += 1;
                        Ok(Operand::Attr(self.qname(&n)?))
                    }
                    _ => Err(format!(
                        "expected an attribute name, found {}",
                        self.describe()
                    )),
                }
            }
            Some(Token::Dot) => {
                self.pos += 1;
                Ok(Operand::Dot)
            }
            Some(Token::Name(n)) if n == "text" && self.peek_at(1) == Some(&Token::LParen) => {
                self.pos += 2;
                self.expect(&Token::RParen, "`)`")?;
                Ok(Operand::Text)
            }
            Some(Token::Name(n)) => Err(format!(
                "`{n}` inside a predicate (a child path or function) is outside the supported subset"
            )),
            _ => Err(format!(
                "expected @attribute, text() or `.`, found {}",
                self.describe()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ns() -> Namespaces {
        Namespaces::for_os("ubuntu").unwrap()
    }

    const TREE: &str = r#"<r name="r" xmlns:st="https://accessibility.ubuntu.example.org/ns/state">
        <a name="a1"><b name="b1">one</b><b name="b2" st:checked="true">two<i name="i1"/>tail</b></a>
        <a name="a2"><b name="b3">three</b><c name="c1"><b name="b4">four</b></c></a>
    </r>"#;

    fn names(expr: &str) -> Vec<String> {
        let doc = Document::parse(TREE).unwrap();
        Path::parse("m", expr, &ns())
            .unwrap()
            .select(&doc)
            .iter()
            .map(|n| n.attribute("name").unwrap_or("?").to_owned())
            .collect()
    }

    #[test]
    fn paths() {
        assert_eq!(names("/r"), vec!["r"]);
        assert_eq!(names("/a"), Vec::<String>::new());
        assert_eq!(names("a"), vec!["a1", "a2"]);
        assert_eq!(names("//b"), vec!["b1", "b2", "b3", "b4"]);
        assert_eq!(names("/r/a/b"), vec!["b1", "b2", "b3"]);
        assert_eq!(names("a//b"), vec!["b1", "b2", "b3", "b4"]);
        assert_eq!(names("//a/*"), vec!["b1", "b2", "b3", "c1"]);
        assert_eq!(names("."), vec!["r"]);
        assert_eq!(names("//c/."), vec!["c1"]);
    }

    #[test]
    fn predicates() {
        assert_eq!(names("//b[1]"), vec!["b1", "b3", "b4"]);
        assert_eq!(names("//b[last()]"), vec!["b2", "b3", "b4"]);
        assert_eq!(names("//b[@st:checked='true']"), vec!["b2"]);
        assert_eq!(names("//b[@st:checked]"), vec!["b2"]);
        assert_eq!(names("//b[not(@st:checked)]"), vec!["b1", "b3", "b4"]);
        assert_eq!(names("//b[@name != 'b1']"), vec!["b2", "b3", "b4"]);
        assert_eq!(names("//b[text()='tail']"), vec!["b2"]);
        assert_eq!(names("//b[.='twotail']"), vec!["b2"]);
        assert_eq!(names("//b[contains(text(), 'wo')]"), vec!["b2"]);
        assert_eq!(names("//b[contains(text(), 'ail')]"), Vec::<String>::new());
        assert_eq!(
            names("//b[starts-with(@name, 'b') and contains(., 'f')]"),
            vec!["b4"]
        );
        assert_eq!(names("//b[@name='b1' or @name=\"b3\"]"), vec!["b1", "b3"]);
        assert_eq!(names("//*[@name='c1']/b[1][text()='four']"), vec!["b4"]);
        assert_eq!(names("//b[2][@name='b2']"), vec!["b2"]);
        assert_eq!(names("//b[@name='b2'][1]"), vec!["b2"]);
    }

    #[test]
    fn refused_forms_name_the_problem() {
        for (expr, why) in [
            ("//b/..", "parent"),
            ("//b/@name", "attributes"),
            ("//b/text()", "text()"),
            ("//b/following-sibling::b", "axis"),
            ("//b[count(i) > 0]", "count()"),
            ("//b[i]", "child path"),
            ("//b[@name < 'c']", "comparison `<`"),
            ("//b[@name = 3]", "string literal"),
            ("//q:b", "unknown namespace prefix `q`"),
            ("//b[1", "`]`"),
            ("//b['x", "unterminated"),
            ("//b | //c", "unexpected"),
        ] {
            let e = Path::parse("check_accessibility_tree", expr, &ns()).unwrap_err();
            let msg = e.to_string();
            assert!(msg.contains(why), "{expr}: {msg}");
            assert!(msg.contains(expr), "{expr}: {msg}");
        }
    }
}
