//! `check_accessibility_tree` (OSWorld `general.py`): finds elements of the
//! accessibility-tree XML by CSS selector ([`css`]) or XPath ([`xpath`]) and,
//! optionally, compares their text.
//!
//! Both selector languages are implemented here for the subset OSWorld tasks use;
//! anything outside it is refused with [`MetricError::UnsupportedSelector`]
//! naming the selector, never guessed.

pub mod css;
pub mod xpath;

use roxmltree::{Document, Node, ParsingOptions};
use serde_json::Value;

use super::similarity::fuzz_ratio;
use super::{Args, Scorer, result_text};
use crate::error::MetricError;

/// Namespace prefixes of OSWorld's accessibility trees (`st`, `attr`, `cp`, ...), per
/// OS (`ubuntu`, `windows`, `macos`), as the OSWorld server writes them.
pub fn namespaces(osname: &str) -> Option<Vec<(&'static str, String)>> {
    let (host, prefixes): (&str, &[&str]) = match osname {
        "ubuntu" => (
            "ubuntu",
            &["st", "attr", "cp", "doc", "docattr", "txt", "val", "act"],
        ),
        "windows" => (
            "windows",
            &[
                "st", "attr", "cp", "doc", "docattr", "txt", "val", "act", "class",
            ],
        ),
        "macos" => (
            "macos",
            &["st", "attr", "cp", "doc", "txt", "val", "act", "role"],
        ),
        _ => return None,
    };
    Some(
        prefixes
            .iter()
            .map(|&p| {
                let path = match p {
                    "st" => "state",
                    "attr" => "attributes",
                    "cp" => "component",
                    "doc" => "document",
                    "docattr" => "document/attributes",
                    "txt" => "text",
                    "val" => "value",
                    "act" => "action",
                    other => other,
                };
                (
                    p,
                    format!("https://accessibility.{host}.example.org/ns/{path}"),
                )
            })
            .collect(),
    )
}

/// A prefix -> namespace URI table for the selector parsers.
#[derive(Debug, Clone)]
pub struct Namespaces(Vec<(&'static str, String)>);

impl Namespaces {
    /// The table of OSWorld's trees on `osname` (see [`namespaces`]).
    pub fn for_os(osname: &str) -> Option<Self> {
        namespaces(osname).map(Namespaces)
    }

    /// The URI bound to `prefix`.
    pub fn resolve(&self, prefix: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(p, _)| *p == prefix)
            .map(|(_, u)| u.as_str())
    }
}

/// A qualified name: a local name in a namespace (`None`: no namespace).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QName {
    /// The namespace URI, resolved from the prefix.
    pub ns: Option<String>,
    /// The local name.
    pub local: String,
}

impl QName {
    /// Whether `node` is an element with this name.
    pub fn names_element(&self, node: Node) -> bool {
        node.is_element()
            && node.tag_name().name() == self.local
            && node.tag_name().namespace() == self.ns.as_deref()
    }

    /// The value of the attribute with this name on `node`.
    pub fn attribute<'a>(&self, node: Node<'a, '_>) -> Option<&'a str> {
        match &self.ns {
            Some(ns) => node.attribute((ns.as_str(), self.local.as_str())),
            None => node.attribute(self.local.as_str()),
        }
    }
}

/// How one rule finds its elements.
enum Finder {
    Css(css::SelectorList),
    XPath(xpath::Path),
}

/// One rule of `check_accessibility_tree`.
struct Rule {
    finder: Finder,
    text: Option<String>,
    exact: bool,
}

/// `check_accessibility_tree(tree_xml, rules, osname="ubuntu")`: for each rule (an
/// object with `xpath`, or else `selectors`, a list of CSS selectors joined by
/// `, `), the rule's score is 0 when nothing matches; otherwise, with `text`, the
/// best over the matched elements of `text == element.text` (`exact`, the default)
/// or `fuzz.ratio(text, element.text) / 100`; without `text`, 1. The metric is the
/// product of the rules' scores.
///
/// `element.text` is lxml's: the text before the element's first child, `None`
/// when empty. Deviation: OSWorld raises when `text` is given without `exact`; here
/// `exact` defaults to true as its documentation says. A tree that is not XML is a
/// [`MetricError::BadResult`].
pub fn check_accessibility_tree(a: &Args) -> Result<Box<dyn Scorer>, MetricError> {
    a.allow_options(&["osname"])?;
    let osname = a.str_option("osname", "ubuntu")?;
    let ns = Namespaces::for_os(osname).ok_or_else(|| {
        a.bad_option(
            "osname",
            &format!("`{osname}`: valid names are ubuntu, windows, macos"),
        )
    })?;
    let Value::Array(raw) = a.expected()? else {
        return Err(a.bad_expected(".", "the rules must be a list of objects"));
    };
    let mut rules = Vec::with_capacity(raw.len());
    for (i, r) in raw.iter().enumerate() {
        let at = |k: &str| format!("[{i}].{k}");
        let Value::Object(r) = r else {
            return Err(a.bad_expected(&format!("[{i}]"), &format!("must be an object, got {r}")));
        };
        let finder = match (r.get("xpath"), r.get("selectors")) {
            (Some(Value::String(x)), _) => Finder::XPath(xpath::Path::parse(a.metric, x, &ns)?),
            (Some(v), _) => {
                return Err(a.bad_expected(&at("xpath"), &format!("must be a string, got {v}")));
            }
            (None, Some(Value::Array(ss))) => {
                let mut parts = Vec::with_capacity(ss.len());
                for s in ss {
                    match s {
                        Value::String(s) => parts.push(s.as_str()),
                        v => {
                            return Err(a.bad_expected(
                                &at("selectors"),
                                &format!("must be strings, got {v}"),
                            ));
                        }
                    }
                }
                Finder::Css(css::SelectorList::parse(a.metric, &parts.join(", "), &ns)?)
            }
            (None, Some(v)) => {
                return Err(a.bad_expected(
                    &at("selectors"),
                    &format!("must be a list of strings, got {v}"),
                ));
            }
            (None, None) => {
                return Err(a.bad_expected(&format!("[{i}]"), "needs `xpath` or `selectors`"));
            }
        };
        let text = match r.get("text") {
            None => None,
            Some(Value::String(t)) => Some(t.clone()),
            Some(v) => {
                return Err(a.bad_expected(&at("text"), &format!("must be a string, got {v}")));
            }
        };
        let exact = match r.get("exact") {
            None => true,
            Some(Value::Bool(b)) => *b,
            Some(v) => {
                return Err(
                    a.bad_expected(&at("exact"), &format!("must be true or false, got {v}"))
                );
            }
        };
        rules.push(Rule {
            finder,
            text,
            exact,
        });
    }
    let metric = a.metric.to_owned();
    Ok(Box::new(move |r: &Value| {
        let xml = result_text(&metric, r)?;
        let opts = ParsingOptions {
            allow_dtd: true,
            ..ParsingOptions::default()
        };
        let doc = Document::parse_with_options(xml, opts).map_err(|e| MetricError::BadResult {
            metric: metric.clone(),
            reason: format!("is not an XML accessibility tree: {e}"),
        })?;
        let mut total = 1.0;
        for rule in &rules {
            let found = match &rule.finder {
                Finder::Css(s) => s.select(&doc),
                Finder::XPath(p) => p.select(&doc),
            };
            if found.is_empty() {
                return Ok(0.0);
            }
            let score = match &rule.text {
                None => 1.0,
                Some(want) => found
                    .iter()
                    .map(|el| {
                        let text = el.text().filter(|t| !t.is_empty());
                        match (rule.exact, text) {
                            (true, Some(t)) if t == want => 1.0,
                            (false, Some(t)) => fuzz_ratio(want, t) / 100.0,
                            _ => 0.0,
                        }
                    })
                    .fold(0.0, f64::max),
            };
            total *= score;
        }
        Ok(total)
    }))
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value, json};

    use crate::error::MetricError;
    use crate::metrics::evaluate;

    /// A trimmed Thunderbird compose window, shaped like the OSWorld server's
    /// accessibility tree.
    const COMPOSE: &str = r#"<desktop-frame xmlns:st="https://accessibility.ubuntu.example.org/ns/state" xmlns:attr="https://accessibility.ubuntu.example.org/ns/attributes" xmlns:cp="https://accessibility.ubuntu.example.org/ns/component" name="main">
  <application name="Thunderbird">
    <frame name="Write: Tuition reminder" st:active="true">
      <tool-bar name="" attr:id="MsgHeadersToolbar">
        <label name="From">From</label>
        <label name="To">To</label>
        <section name="" attr:class="address-pill">
          <label name="fox@someuniversity.edu" attr:class="pill-label">fox@someuniversity.edu</label>
        </section>
        <section name="" attr:class="address-pill">
          <label name="iron@someuniversity.edu" attr:class="pill-label">iron@someuniversity.edu</label>
        </section>
        <label name="Subject">Subject</label>
        <entry name="Subject" st:focused="true">Tuition reminder<paragraph name=""/></entry>
      </tool-bar>
    </frame>
    <page-tab-list name="" attr:id="tabmail-tabs">
      <page-tab name="Inbox"/>
      <page-tab name="About Profiles" st:selected="true"/>
    </page-tab-list>
  </application>
</desktop-frame>"#;

    fn run(rules: Value) -> Result<f64, MetricError> {
        evaluate(
            "check_accessibility_tree",
            &json!(COMPOSE),
            Some(&rules),
            &Map::new(),
        )
    }

    fn pill(addr: &str) -> Value {
        json!({"selectors": [format!(
            "tool-bar[attr|id=MsgHeadersToolbar] label[name=To]~[attr|class=\"address-pill\"]>label[attr|class=\"pill-label\"][name*=\"{addr}\"]"
        )]})
    }

    #[test]
    fn recipients_in_the_to_field() {
        // multi_apps f5c13cdd-205c-4719-a562-348ae5cd1d91: every unpaid student is a
        // recipient.
        assert_eq!(
            run(json!([
                pill("fox@someuniversity.edu"),
                pill("iron@someuniversity.edu")
            ])),
            Ok(1.0)
        );
        assert_eq!(
            run(json!([
                pill("fox@someuniversity.edu"),
                pill("nancy@someuniversity.edu")
            ])),
            Ok(0.0)
        );
        // Pills before the `To` label would not count (`~` looks at earlier siblings).
        assert_eq!(
            run(json!([{"selectors": ["label[name=Subject]~[attr|class=\"address-pill\"]"]}])),
            Ok(0.0)
        );
    }

    #[test]
    fn profile_manager_tab() {
        // thunderbird 12086550-11c0-466b-b367-1d9e75b3910e.
        let rule = |tab: &str| {
            json!([{"selectors": [format!(
                "application[name=Thunderbird] page-tab-list[attr|id=\"tabmail-tabs\"]>page-tab[name=\"{tab}\"]"
            )]}])
        };
        assert_eq!(run(rule("About Profiles")), Ok(1.0));
        assert_eq!(run(rule("Profiles")), Ok(0.0));
    }

    #[test]
    fn text_exact_and_fuzzy() {
        let exact = json!([{"selectors": ["entry[name=Subject]"], "text": "Tuition reminder", "exact": true}]);
        assert_eq!(run(exact), Ok(1.0));
        let default_exact =
            json!([{"selectors": ["entry[name=Subject]"], "text": "Tuition Reminder"}]);
        assert_eq!(run(default_exact), Ok(0.0));
        let fuzzy = json!([{"xpath": "//entry[@name='Subject']", "text": "Tuition reminders", "exact": false}]);
        // rapidfuzz: ratio("Tuition reminders", "Tuition reminder") = 96.969696...
        assert_eq!(run(fuzzy), Ok(0.9696969696969697));
        // Elements without text score 0 on a text rule; the best element counts.
        let best = json!([{"selectors": ["tool-bar label"], "text": "To"}]);
        assert_eq!(run(best), Ok(1.0));
        let none = json!([{"selectors": ["page-tab"], "text": "Inbox", "exact": false}]);
        assert_eq!(run(none), Ok(0.0));
        // The score is the product over rules.
        let two = json!([
            {"selectors": ["entry[name=Subject]"], "text": "Tuition reminders", "exact": false},
            {"xpath": "//page-tab[@st:selected='true']"}
        ]);
        assert_eq!(run(two), Ok(0.9696969696969697));
    }

    #[test]
    fn xpath_rules() {
        assert_eq!(
            run(json!([{"xpath": "/desktop-frame/application[@name='Thunderbird']"}])),
            Ok(1.0)
        );
        assert_eq!(
            run(json!([{"xpath": "//page-tab[2][@name='About Profiles']"}])),
            Ok(1.0)
        );
        assert_eq!(
            run(json!([{"xpath": "//page-tab[1][@name='About Profiles']"}])),
            Ok(0.0)
        );
        assert_eq!(
            run(
                json!([{"xpath": "//tool-bar[@attr:id='MsgHeadersToolbar']//label[contains(@name, 'iron@')]"}])
            ),
            Ok(1.0)
        );
        // xpath wins over selectors.
        assert_eq!(
            run(json!([{"xpath": "//nothing", "selectors": ["page-tab"]}])),
            Ok(0.0)
        );
    }

    #[test]
    fn refusals() {
        let e = run(json!([{"selectors": ["page-tab:nth-child(2)"]}])).unwrap_err();
        assert!(matches!(e, MetricError::UnsupportedSelector { .. }), "{e}");
        assert!(e.to_string().contains("page-tab:nth-child(2)"), "{e}");
        let e = run(json!([{"xpath": "//page-tab/following-sibling::page-tab"}])).unwrap_err();
        assert!(matches!(e, MetricError::UnsupportedSelector { .. }), "{e}");
        let e = run(json!([{"text": "x"}])).unwrap_err();
        assert!(matches!(e, MetricError::BadExpected { .. }), "{e}");
        let e = run(json!({"selectors": ["a"]})).unwrap_err();
        assert!(matches!(e, MetricError::BadExpected { .. }), "{e}");
        let o = json!({"osname": "plan9"}).as_object().unwrap().clone();
        let e = evaluate(
            "check_accessibility_tree",
            &json!(COMPOSE),
            Some(&json!([])),
            &o,
        )
        .unwrap_err();
        assert!(matches!(e, MetricError::BadOption { .. }), "{e}");
        let e = evaluate(
            "check_accessibility_tree",
            &json!("<a>"),
            Some(&json!([{"selectors": ["a"]}])),
            &Map::new(),
        )
        .unwrap_err();
        assert!(matches!(e, MetricError::BadResult { .. }), "{e}");
    }

    #[test]
    fn windows_namespaces() {
        let tree = r#"<root xmlns:attr="https://accessibility.windows.example.org/ns/attributes"><Button attr:id="ok">OK</Button></root>"#;
        let rules = json!([{"selectors": ["Button[attr|id=ok]"], "text": "OK"}]);
        let o = json!({"osname": "windows"}).as_object().unwrap().clone();
        assert_eq!(
            evaluate("check_accessibility_tree", &json!(tree), Some(&rules), &o),
            Ok(1.0)
        );
        // Under the ubuntu map the prefix names another namespace.
        assert_eq!(
            evaluate(
                "check_accessibility_tree",
                &json!(tree),
                Some(&rules),
                &Map::new()
            ),
            Ok(0.0)
        );
    }
}
