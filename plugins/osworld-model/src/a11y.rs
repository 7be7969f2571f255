//! The accessibility tree XML of OSWorld's `/accessibility` turned into a compact table
//! of the elements an agent can act on (role, name, text, position, size).
//!
//! The XML has one element per accessible node, the role as the tag, the name in a
//! plain `name` attribute, states in the `st:` namespace (`st:showing="true"`),
//! geometry in `cp:screencoord="(x, y)"` and `cp:size="(w, h)"`, values in `val:`,
//! and the node's text as element text. An element is kept when its role is an
//! interactive or content role, it is showing and visible (visible alone on Windows,
//! whose trees have no `showing`), it is enabled, editable, expandable or checkable, it
//! has a name or text of its own, and it has an on-screen position and a positive size
//! — node for node the filter OSWorld's baseline agents apply before linearizing the
//! tree (`judge_node` in `mm_agents/accessibility_tree_wrap/heuristic_retrieve.py`).
//! Where steprl differs: a kept node without text shows its `val:value` (OSWorld shows
//! it only for Windows edit controls), and a cell is cut to a length — a terminal's to
//! its last characters, the recent output (OSWorld cuts the whole table to a token
//! budget instead).

/// One element of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    /// The role (the XML tag, e.g. `push-button`).
    pub role: String,
    /// The accessible name.
    pub name: String,
    /// The element's text (or its `val:value`), whitespace collapsed.
    pub text: String,
    /// Left edge on screen.
    pub x: i64,
    /// Top edge on screen.
    pub y: i64,
    /// Width.
    pub w: i64,
    /// Height.
    pub h: i64,
}

impl Element {
    /// The point clicks go to: the centre of the element.
    pub fn center(&self) -> (i64, i64) {
        (self.x + self.w / 2, self.y + self.h / 2)
    }
}

/// The tree could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the accessibility tree is not XML: {0}")]
pub struct A11yError(pub String);

/// Role suffixes that mark interactive or content nodes.
const KEPT_SUFFIXES: &[&str] = &[
    "item",
    "button",
    "heading",
    "label",
    "scrollbar",
    "searchbox",
    "textbox",
    "link",
    "tabelement",
    "textfield",
    "textarea",
    "menu",
];

/// Roles kept by name (OSWorld's list, Windows classes included).
const KEPT_ROLES: &[&str] = &[
    "alert",
    "canvas",
    "check-box",
    "combo-box",
    "entry",
    "icon",
    "image",
    "paragraph",
    "scroll-bar",
    "section",
    "slider",
    "static",
    "table-cell",
    "terminal",
    "text",
    "netuiribbontab",
    "start",
    "trayclockwclass",
    "traydummysearchcontrol",
    "uiimage",
    "uiproperty",
    "uiribboncommandbar",
];

fn kept_role(role: &str) -> bool {
    role.starts_with("document")
        || KEPT_SUFFIXES.iter().any(|s| role.ends_with(s))
        || KEPT_ROLES.contains(&role)
}

/// An attribute in a namespace whose URI ends with `/ns/<kind>` (Ubuntu, Windows and
/// macOS trees use different hosts, the same paths).
fn ns_attr<'a>(node: roxmltree::Node<'a, 'a>, kind: &str, name: &str) -> Option<&'a str> {
    let suffix = format!("/ns/{kind}");
    node.attributes()
        .find(|a| a.name() == name && a.namespace().is_some_and(|n| n.ends_with(&suffix)))
        .map(|a| a.value())
}

fn state(node: roxmltree::Node<'_, '_>, name: &str) -> bool {
    ns_attr(node, "state", name) == Some("true")
}

/// Whether the tree comes from OSWorld's Windows server, whose nodes have no `showing`
/// state (only `visible`).
fn windows_tree(doc: &roxmltree::Document<'_>) -> bool {
    doc.root_element()
        .namespaces()
        .any(|n| n.uri().contains("accessibility.windows."))
}

/// Parse `"(x, y)"`.
fn pair(s: &str) -> Option<(i64, i64)> {
    let inner = s.trim().strip_prefix('(')?.strip_suffix(')')?;
    let (a, b) = inner.split_once(',')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The kept elements of a tree, in document order.
pub fn parse_elements(xml: &str) -> Result<Vec<Element>, A11yError> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| A11yError(e.to_string()))?;
    let windows = windows_tree(&doc);
    let mut out = Vec::new();
    for node in doc.descendants().filter(|n| n.is_element()) {
        let role = node.tag_name().name();
        if !kept_role(role) {
            continue;
        }
        let shown = state(node, "visible") && (windows || state(node, "showing"));
        if !shown {
            continue;
        }
        if !["enabled", "editable", "expandable", "checkable"]
            .iter()
            .any(|s| state(node, s))
        {
            continue;
        }
        let name = collapse(node.attribute("name").unwrap_or(""));
        let own_text: String = node
            .children()
            .filter(|c| c.is_text())
            .filter_map(|c| c.text())
            .collect();
        let mut text = collapse(&own_text.replace(['\u{fffc}', '\u{fffd}'], ""));
        // A node needs a name or text of its own (a nameless scroll-bar whose only
        // content is its value is dropped, as OSWorld drops it); a kept node with no
        // text shows its value instead.
        if name.is_empty() && text.is_empty() {
            continue;
        }
        if text.is_empty() {
            text = collapse(ns_attr(node, "value", "value").unwrap_or(""));
        }
        let (Some((x, y)), Some((w, h))) = (
            ns_attr(node, "component", "screencoord").and_then(pair),
            ns_attr(node, "component", "size").and_then(pair),
        ) else {
            continue;
        };
        if x < 0 || y < 0 || w <= 0 || h <= 0 {
            continue;
        }
        out.push(Element {
            role: role.to_owned(),
            name,
            text,
            x,
            y,
            w,
            h,
        });
    }
    Ok(out)
}

fn cell(s: &str, max: usize) -> String {
    let s = s.replace('\t', " ");
    if s.chars().count() <= max {
        s
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// The last `max` characters of `s`, marked as cut at the front: a terminal's recent
/// output.
fn tail_cell(s: &str, max: usize) -> String {
    let s = s.replace('\t', " ");
    let n = s.chars().count();
    if n <= max {
        s
    } else {
        let mut t = String::from("…");
        t.extend(s.chars().skip(n - (max - 1)));
        t
    }
}

/// Longest name or text shown in a table cell.
pub const CELL_CHARS: usize = 60;

/// Longest terminal text shown: its last this many characters.
pub const TERMINAL_CHARS: usize = 240;

/// The element table: a header, then one tab-separated row per element up to
/// `shown` (`index role name text (x, y) (w, h)`), then how many were left out.
pub fn render_table(elements: &[Element], shown: usize) -> String {
    let mut out = String::from("index\trole\tname\ttext\tposition (x, y)\tsize (w, h)\n");
    for (i, e) in elements.iter().take(shown).enumerate() {
        out.push_str(&format!(
            "{i}\t{}\t{}\t{}\t({}, {})\t({}, {})\n",
            e.role,
            cell(&e.name, CELL_CHARS),
            if e.role == "terminal" {
                tail_cell(&e.text, TERMINAL_CHARS)
            } else {
                cell(&e.text, CELL_CHARS)
            },
            e.x,
            e.y,
            e.w,
            e.h
        ));
    }
    if elements.len() > shown {
        out.push_str(&format!(
            "({} more elements not shown)\n",
            elements.len() - shown
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TREE: &str = r#"<desktop-frame xmlns:st="https://accessibility.ubuntu.example.org/ns/state" xmlns:attr="https://accessibility.ubuntu.example.org/ns/attributes" xmlns:cp="https://accessibility.ubuntu.example.org/ns/component" xmlns:val="https://accessibility.ubuntu.example.org/ns/value" name="main">
  <application name="gnome-shell" st:enabled="true">
    <push-button name="Activities" st:enabled="true" st:sensitive="true" st:showing="true" st:visible="true" cp:screencoord="(0, 0)" cp:size="(100, 32)"/>
    <push-button name="Hidden" st:enabled="true" st:showing="false" st:visible="true" cp:screencoord="(0, 40)" cp:size="(10, 10)"/>
    <push-button name="Offscreen" st:enabled="true" st:showing="true" st:visible="true" cp:screencoord="(-5, 0)" cp:size="(10, 10)"/>
    <panel name="Top Bar" st:enabled="true" st:showing="true" st:visible="true" cp:screencoord="(0, 0)" cp:size="(1920, 32)"/>
  </application>
  <application name="gnome-terminal-server">
    <frame name="user@ubuntu: ~" st:active="true" st:showing="true" st:visible="true">
      <terminal name="Terminal" st:editable="true" st:focusable="true" st:showing="true" st:visible="true" cp:screencoord="(70, 100)" cp:size="(800, 500)">user@ubuntu:~$ ls
Desktop	Documents</terminal>
      <entry name="" st:enabled="true" st:showing="true" st:visible="true" cp:screencoord="(70, 620)" cp:size="(300, 30)" val:value="42"/>
      <scroll-bar name="" st:enabled="true" st:showing="true" st:visible="true" cp:screencoord="(870, 100)" cp:size="(10, 500)" val:value="0.0"/>
      <slider name="Volume" st:enabled="true" st:showing="true" st:visible="true" cp:screencoord="(70, 740)" cp:size="(300, 30)" val:value="70"/>
      <page-tab name="Tab 1" st:enabled="true" st:showing="true" st:visible="true" cp:screencoord="(70, 780)" cp:size="(30, 30)"/>
      <label name="" st:enabled="true" st:showing="true" st:visible="true" cp:screencoord="(70, 660)" cp:size="(300, 30)"/>
      <check-box name="Disabled" st:showing="true" st:visible="true" cp:screencoord="(70, 700)" cp:size="(30, 30)"/>
    </frame>
  </application>
</desktop-frame>"#;

    #[test]
    fn keeps_only_actionable_visible_named_elements() {
        let els = parse_elements(TREE).unwrap();
        let names: Vec<_> = els
            .iter()
            .map(|e| (e.role.as_str(), e.name.as_str()))
            .collect();
        // The nameless entry whose only content is its value is dropped, as OSWorld
        // drops it; a named slider shows its value as text.
        assert_eq!(
            names,
            [
                ("push-button", "Activities"),
                ("terminal", "Terminal"),
                ("slider", "Volume")
            ]
        );
        assert_eq!(els[0].center(), (50, 16));
        assert_eq!(els[1].text, "user@ubuntu:~$ ls Desktop Documents");
        assert_eq!(els[2].text, "70");
        assert_eq!(
            (els[1].x, els[1].y, els[1].w, els[1].h),
            (70, 100, 800, 500)
        );
    }

    #[test]
    fn windows_trees_have_no_showing_state_and_need_only_visible() {
        // OSWorld's Windows server writes no `st:showing`; its class names are tags.
        let xml = r#"<desktop xmlns:st="https://accessibility.windows.example.org/ns/state" xmlns:cp="https://accessibility.windows.example.org/ns/component">
            <button name="OK" st:enabled="true" st:visible="true" cp:screencoord="(5, 6)" cp:size="(7, 8)"/>
            <trayclockwclass name="Clock 10:42" st:enabled="true" st:visible="true" cp:screencoord="(1800, 1040)" cp:size="(80, 40)"/>
            <button name="Hidden" st:enabled="true" st:visible="false" cp:screencoord="(5, 6)" cp:size="(7, 8)"/></desktop>"#;
        let names: Vec<String> = parse_elements(xml)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["OK", "Clock 10:42"]);
        // An Ubuntu node without `showing` is still left out.
        let ubuntu = xml.replace("windows", "ubuntu");
        assert!(parse_elements(&ubuntu).unwrap().is_empty());
    }

    #[test]
    fn a_terminal_shows_its_recent_output() {
        let mut lines = String::new();
        for i in 0..100 {
            lines.push_str(&format!("line {i} "));
        }
        let term = Element {
            role: "terminal".into(),
            name: "Terminal".into(),
            text: lines.trim_end().into(),
            x: 0,
            y: 0,
            w: 1,
            h: 1,
        };
        let row = render_table(std::slice::from_ref(&term), 1);
        let text = row.lines().nth(1).unwrap().split('\t').nth(3).unwrap();
        assert!(
            text.starts_with('…') && text.ends_with("line 98 line 99"),
            "{text}"
        );
        assert_eq!(text.chars().count(), TERMINAL_CHARS);
        // Other cells keep their beginning.
        let label = Element {
            role: "label".into(),
            ..term
        };
        let row = render_table(&[label], 1);
        let text = row.lines().nth(1).unwrap().split('\t').nth(3).unwrap();
        assert!(
            text.starts_with("line 0 line 1") && text.ends_with('…'),
            "{text}"
        );
    }

    #[test]
    fn table_rows_are_indexed_and_truncated() {
        let els = parse_elements(TREE).unwrap();
        let t = render_table(&els, 2);
        let lines: Vec<_> = t.lines().collect();
        assert_eq!(
            lines[0],
            "index\trole\tname\ttext\tposition (x, y)\tsize (w, h)"
        );
        assert_eq!(lines[1], "0\tpush-button\tActivities\t\t(0, 0)\t(100, 32)");
        assert!(lines[2].starts_with("1\tterminal\tTerminal\tuser@ubuntu"));
        assert_eq!(lines[3], "(1 more elements not shown)");
        let long = Element {
            role: "label".into(),
            name: "x".repeat(100),
            text: String::new(),
            x: 0,
            y: 0,
            w: 1,
            h: 1,
        };
        let row = render_table(&[long], 1);
        assert!(row.lines().nth(1).unwrap().chars().count() < 100);
    }

    #[test]
    fn bad_xml_is_an_error() {
        assert!(parse_elements("<a><b></a>").is_err());
    }
}
