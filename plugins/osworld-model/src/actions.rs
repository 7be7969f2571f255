//! Actions: the discrete set-of-marks table (click / double-click / type a text slot
//! into element k, keys, hotkeys, scroll, DONE / FAIL / WAIT) and the text actions
//! (raw pyautogui code, computer_13 JSON), all translated into the pyautogui code
//! OSWorld's server runs through `python -c`.

use serde_json::{Map, Value};

use crate::a11y::Element;

/// Prepended to every action's code, as OSWorld's controller does.
pub const PKGS_PREFIX: &str = "import pyautogui; import time; pyautogui.FAILSAFE = False; ";

/// The argument vector `/execute` gets for an action's code.
pub fn python_command(code: &str) -> Vec<String> {
    vec!["python".into(), "-c".into(), format!("{PKGS_PREFIX}{code}")]
}

/// The special actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Special {
    /// The agent says the task is done (ends the episode).
    Done,
    /// The agent says the task cannot be done (ends the episode).
    Fail,
    /// Nothing happens for one pause.
    Wait,
}

impl Special {
    /// `DONE`, `FAIL` or `WAIT`.
    pub fn as_str(self) -> &'static str {
        match self {
            Special::Done => "DONE",
            Special::Fail => "FAIL",
            Special::Wait => "WAIT",
        }
    }

    fn parse(s: &str) -> Option<Special> {
        match s {
            "DONE" => Some(Special::Done),
            "FAIL" => Some(Special::Fail),
            "WAIT" => Some(Special::Wait),
            _ => None,
        }
    }
}

/// What one action does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Act {
    /// A special action.
    Special(Special),
    /// pyautogui statements (without the import prefix).
    Code(String),
}

/// Keys of the discrete `press` actions.
pub const KEYS: &[&str] = &[
    "enter",
    "tab",
    "escape",
    "backspace",
    "delete",
    "up",
    "down",
    "left",
    "right",
    "home",
    "end",
    "pageup",
    "pagedown",
    "space",
];

/// Key combinations of the discrete `hotkey` actions.
pub const HOTKEYS: &[&[&str]] = &[
    &["ctrl", "a"],
    &["ctrl", "c"],
    &["ctrl", "v"],
    &["ctrl", "x"],
    &["ctrl", "z"],
    &["ctrl", "s"],
    &["ctrl", "f"],
    &["ctrl", "l"],
    &["ctrl", "alt", "t"],
    &["alt", "f4"],
    &["alt", "tab"],
    &["ctrl", "w"],
];

/// Wheel clicks of the discrete scroll actions.
pub const SCROLL_CLICKS: i32 = 5;

/// One discrete action, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discrete {
    /// Click the centre of element k.
    Click(usize),
    /// Double-click the centre of element k.
    DoubleClick(usize),
    /// Click element k, then type text slot j.
    Type {
        /// Element index.
        element: usize,
        /// Text slot index.
        slot: usize,
    },
    /// Press one key of [`KEYS`].
    Press(usize),
    /// Press one combination of [`HOTKEYS`].
    Hotkey(usize),
    /// Scroll up (positive) or down (negative) by [`SCROLL_CLICKS`].
    Scroll(i32),
    /// DONE, FAIL or WAIT.
    Special(Special),
}

/// The discrete action table for K element slots and S text slots:
/// `[0, K)` click k; `[K, 2K)` double-click k; `[2K, 2K + K·S)` type slot j into
/// element k at `2K + k·S + j`; then one press per [`KEYS`] entry, one hotkey per
/// [`HOTKEYS`] entry, scroll up, scroll down, DONE, FAIL, WAIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActionTable {
    /// K.
    pub elements: usize,
    /// S.
    pub slots: usize,
}

impl ActionTable {
    fn typing_start(&self) -> usize {
        2 * self.elements
    }
    fn keys_start(&self) -> usize {
        self.typing_start() + self.elements * self.slots
    }
    fn hotkeys_start(&self) -> usize {
        self.keys_start() + KEYS.len()
    }
    fn tail_start(&self) -> usize {
        self.hotkeys_start() + HOTKEYS.len()
    }

    /// The number of discrete actions.
    pub fn len(&self) -> usize {
        self.tail_start() + 5
    }

    /// Never empty (DONE / FAIL / WAIT always exist).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Decode an index.
    pub fn decode(&self, i: usize) -> Option<Discrete> {
        let k = self.elements;
        Some(if i < k {
            Discrete::Click(i)
        } else if i < 2 * k {
            Discrete::DoubleClick(i - k)
        } else if i < self.keys_start() {
            let r = i - self.typing_start();
            Discrete::Type {
                element: r / self.slots,
                slot: r % self.slots,
            }
        } else if i < self.hotkeys_start() {
            Discrete::Press(i - self.keys_start())
        } else if i < self.tail_start() {
            Discrete::Hotkey(i - self.hotkeys_start())
        } else {
            match i - self.tail_start() {
                0 => Discrete::Scroll(SCROLL_CLICKS),
                1 => Discrete::Scroll(-SCROLL_CLICKS),
                2 => Discrete::Special(Special::Done),
                3 => Discrete::Special(Special::Fail),
                4 => Discrete::Special(Special::Wait),
                _ => return None,
            }
        })
    }

    /// The index of a discrete action (the inverse of [`ActionTable::decode`]).
    pub fn index(&self, d: Discrete) -> usize {
        match d {
            Discrete::Click(k) => k,
            Discrete::DoubleClick(k) => self.elements + k,
            Discrete::Type { element, slot } => self.typing_start() + element * self.slots + slot,
            Discrete::Press(i) => self.keys_start() + i,
            Discrete::Hotkey(i) => self.hotkeys_start() + i,
            Discrete::Scroll(n) if n > 0 => self.tail_start(),
            Discrete::Scroll(_) => self.tail_start() + 1,
            Discrete::Special(Special::Done) => self.tail_start() + 2,
            Discrete::Special(Special::Fail) => self.tail_start() + 3,
            Discrete::Special(Special::Wait) => self.tail_start() + 4,
        }
    }

    /// The label of every action, in index order.
    pub fn labels(&self) -> Vec<String> {
        (0..self.len())
            .map(|i| match self.decode(i).expect("in range") {
                Discrete::Click(k) => format!("click e{k}"),
                Discrete::DoubleClick(k) => format!("double_click e{k}"),
                Discrete::Type { element, slot } => format!("type slot{slot} into e{element}"),
                Discrete::Press(i) => format!("press {}", KEYS[i]),
                Discrete::Hotkey(i) => format!("hotkey {}", HOTKEYS[i].join("+")),
                Discrete::Scroll(n) if n > 0 => "scroll up".into(),
                Discrete::Scroll(_) => "scroll down".into(),
                Discrete::Special(s) => s.as_str().into(),
            })
            .collect()
    }

    /// Which actions are valid with `visible` elements on screen and `slots` text
    /// slots in the task.
    pub fn mask(&self, visible: usize, slots: usize) -> Vec<bool> {
        (0..self.len())
            .map(|i| match self.decode(i).expect("in range") {
                Discrete::Click(k) | Discrete::DoubleClick(k) => k < visible,
                Discrete::Type { element, slot } => element < visible && slot < slots,
                _ => true,
            })
            .collect()
    }

    /// The pyautogui code of a discrete action on the current screen.
    pub fn act(&self, index: usize, elements: &[Element], slots: &[String]) -> Result<Act, String> {
        let d = self.decode(index).ok_or_else(|| {
            format!(
                "discrete action {index} is out of range (0..{})",
                self.len()
            )
        })?;
        let visible = elements.len().min(self.elements);
        let el = |k: usize| -> Result<&Element, String> {
            if k < visible {
                Ok(&elements[k])
            } else {
                Err(format!(
                    "action {index} acts on element {k}, but only {visible} elements are on screen (masked)"
                ))
            }
        };
        Ok(match d {
            Discrete::Click(k) => {
                let (x, y) = el(k)?.center();
                Act::Code(format!("pyautogui.click({x}, {y})"))
            }
            Discrete::DoubleClick(k) => {
                let (x, y) = el(k)?.center();
                Act::Code(format!("pyautogui.doubleClick({x}, {y})"))
            }
            Discrete::Type { element, slot } => {
                let (x, y) = el(element)?.center();
                let text = slots.get(slot).ok_or_else(|| {
                    format!(
                        "action {index} types text slot {slot}, but the task has {} (masked)",
                        slots.len()
                    )
                })?;
                Act::Code(format!(
                    "pyautogui.click({x}, {y}); pyautogui.typewrite({})",
                    py_str(text)
                ))
            }
            Discrete::Press(i) => Act::Code(format!("pyautogui.press({})", py_str(KEYS[i]))),
            Discrete::Hotkey(i) => Act::Code(format!(
                "pyautogui.hotkey({})",
                HOTKEYS[i]
                    .iter()
                    .map(|k| py_str(k))
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Discrete::Scroll(n) => Act::Code(format!("pyautogui.scroll({n})")),
            Discrete::Special(s) => Act::Special(s),
        })
    }
}

impl ActionTable {
    /// A text action in the set-of-marks space, for text-writing policies: any
    /// action's label (`click e3`, `press enter`, `hotkey ctrl+c`, `DONE`, …) does that
    /// action; `type e3: TEXT` clicks element 3 and types TEXT; `type: TEXT` types TEXT
    /// where the focus is. TEXT is any text, so a task needs no text slot for it.
    pub fn act_text(
        &self,
        text: &str,
        elements: &[Element],
        slots: &[String],
    ) -> Result<Act, String> {
        let t = text.trim();
        if let Some(i) = self.labels().iter().position(|l| l == t) {
            return self.act(i, elements, slots);
        }
        if let Some(rest) = t.strip_prefix("type") {
            let (target, typed) = rest.split_once(':').ok_or_else(|| text_forms(t))?;
            // One space after the colon separates; the rest is typed as written.
            let typed = typed.strip_prefix(' ').unwrap_or(typed);
            if typed.is_empty() {
                return Err(format!(
                    "`{t}` types nothing (write the text after the colon)"
                ));
            }
            let target = target.trim();
            if target.is_empty() {
                return Ok(Act::Code(format!("pyautogui.typewrite({})", py_str(typed))));
            }
            let k: usize = target
                .strip_prefix('e')
                .and_then(|k| k.parse().ok())
                .ok_or_else(|| text_forms(t))?;
            let visible = elements.len().min(self.elements);
            if k >= visible {
                return Err(format!(
                    "`{t}` types into element {k}, but only {visible} elements are on screen"
                ));
            }
            let (x, y) = elements[k].center();
            return Ok(Act::Code(format!(
                "pyautogui.click({x}, {y}); pyautogui.typewrite({})",
                py_str(typed)
            )));
        }
        Err(text_forms(t))
    }
}

/// What a set-of-marks text action may say, for an error about `t`.
fn text_forms(t: &str) -> String {
    let shown: String = t.chars().take(80).collect();
    format!(
        "`{shown}` is not a set-of-marks action: write an action's label (`click e3`, `double_click e3`, \
         `press enter`, `hotkey ctrl+c`, `scroll up`, DONE, FAIL, WAIT), `type e3: TEXT` or `type: TEXT`"
    )
}

/// A Python string literal (single-quoted, escapes for `\`, `'` and control
/// characters).
pub fn py_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A `pyautogui` text action: `DONE`, `FAIL`, `WAIT`, or code run as is.
pub fn parse_pyautogui(text: &str) -> Result<Act, String> {
    let t = text.trim();
    if let Some(s) = Special::parse(t) {
        return Ok(Act::Special(s));
    }
    if t.is_empty() {
        return Err("an empty pyautogui action (send code, or DONE / FAIL / WAIT)".into());
    }
    Ok(Act::Code(t.to_owned()))
}

/// pyautogui's key names (`pyautogui.KEYBOARD_KEYS`), lower-case.
pub fn is_keyboard_key(key: &str) -> bool {
    const NAMED: &[&str] = &[
        "accept",
        "add",
        "alt",
        "altleft",
        "altright",
        "apps",
        "backspace",
        "browserback",
        "browserfavorites",
        "browserforward",
        "browserhome",
        "browserrefresh",
        "browsersearch",
        "browserstop",
        "capslock",
        "clear",
        "convert",
        "ctrl",
        "ctrlleft",
        "ctrlright",
        "decimal",
        "del",
        "delete",
        "divide",
        "down",
        "end",
        "enter",
        "esc",
        "escape",
        "execute",
        "final",
        "fn",
        "hanguel",
        "hangul",
        "hanja",
        "help",
        "home",
        "insert",
        "junja",
        "kana",
        "kanji",
        "launchapp1",
        "launchapp2",
        "launchmail",
        "launchmediaselect",
        "left",
        "modechange",
        "multiply",
        "nexttrack",
        "nonconvert",
        "numlock",
        "pagedown",
        "pageup",
        "pause",
        "pgdn",
        "pgup",
        "playpause",
        "prevtrack",
        "print",
        "printscreen",
        "prntscrn",
        "prtsc",
        "prtscr",
        "return",
        "right",
        "scrolllock",
        "select",
        "separator",
        "shift",
        "shiftleft",
        "shiftright",
        "sleep",
        "space",
        "stop",
        "subtract",
        "tab",
        "up",
        "volumedown",
        "volumemute",
        "volumeup",
        "win",
        "winleft",
        "winright",
        "yen",
        "command",
        "option",
        "optionleft",
        "optionright",
    ];
    let k = key.to_lowercase();
    let mut chars = k.chars();
    if let (Some(c), None) = (chars.next(), chars.next()) {
        return c.is_ascii_graphic() || matches!(c, ' ' | '\t' | '\n' | '\r');
    }
    if NAMED.contains(&k.as_str()) {
        return true;
    }
    if let Some(n) = k.strip_prefix("num") {
        return n.len() == 1 && n.as_bytes()[0].is_ascii_digit();
    }
    if let Some(n) = k.strip_prefix('f') {
        return n.parse::<u32>().is_ok_and(|n| (1..=24).contains(&n));
    }
    false
}

fn number(params: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match params.get(key) {
        None => Ok(None),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::String(s)) if s.trim().parse::<f64>().is_ok_and(f64::is_finite) => {
            Ok(Some(s.trim().to_owned()))
        }
        Some(other) => Err(format!("`{key}` must be a number, found {other}")),
    }
}

fn button(params: &Map<String, Value>) -> Result<Option<String>, String> {
    match params.get("button") {
        None => Ok(None),
        Some(Value::String(b)) if matches!(b.as_str(), "left" | "right" | "middle") => {
            Ok(Some(py_str(b)))
        }
        Some(other) => Err(format!(
            "`button` must be left, right or middle, found {other}"
        )),
    }
}

fn key(params: &Map<String, Value>) -> Result<String, String> {
    match params.get("key") {
        Some(Value::String(k)) if is_keyboard_key(k) => Ok(py_str(k)),
        Some(other) => Err(format!("`key` must be a pyautogui key name, found {other}")),
        None => Err("`key` is required".into()),
    }
}

/// A computer_13 text action: a JSON object `{"action_type": T, "parameters": {...}}`
/// (or with the parameters beside `action_type`), translated into pyautogui code.
pub fn parse_computer13(text: &str) -> Result<Act, String> {
    let t = text.trim();
    if let Some(s) = Special::parse(t) {
        return Ok(Act::Special(s));
    }
    let v: Value = serde_json::from_str(t)
        .map_err(|e| format!("a computer_13 action must be a JSON object: {e}"))?;
    let obj = v
        .as_object()
        .ok_or("a computer_13 action must be a JSON object")?;
    let ty = obj
        .get("action_type")
        .and_then(Value::as_str)
        .ok_or("a computer_13 action needs `action_type`")?;
    let params: Map<String, Value> = match obj.get("parameters") {
        Some(Value::Object(p)) => p.clone(),
        Some(Value::Null) | None => obj
            .iter()
            .filter(|(k, _)| k.as_str() != "action_type" && k.as_str() != "parameters")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        Some(other) => return Err(format!("`parameters` must be an object, found {other}")),
    };
    let ctx = |e: String| format!("computer_13 {ty}: {e}");
    let xy = || -> Result<Option<(String, String)>, String> {
        match (
            number(&params, "x").map_err(ctx)?,
            number(&params, "y").map_err(ctx)?,
        ) {
            (Some(x), Some(y)) => Ok(Some((x, y))),
            (None, None) => Ok(None),
            _ => Err(ctx("give both `x` and `y`, or neither".into())),
        }
    };
    let code = match ty {
        "WAIT" | "FAIL" | "DONE" => return Ok(Act::Special(Special::parse(ty).expect("special"))),
        "MOVE_TO" => match xy()? {
            Some((x, y)) => format!("pyautogui.moveTo({x}, {y})"),
            None => "pyautogui.moveTo()".into(),
        },
        "CLICK" => {
            let mut args = Vec::new();
            if let Some(b) = button(&params).map_err(ctx)? {
                args.push(format!("button={b}"));
            }
            if let Some((x, y)) = xy()? {
                args.push(format!("x={x}"));
                args.push(format!("y={y}"));
            }
            match params.get("num_clicks") {
                None => {}
                Some(Value::Number(n)) if n.as_u64().is_some() => args.push(format!("clicks={n}")),
                Some(other) => {
                    return Err(ctx(format!("`num_clicks` must be a count, found {other}")));
                }
            }
            format!("pyautogui.click({})", args.join(", "))
        }
        "MOUSE_DOWN" | "MOUSE_UP" => {
            let f = if ty == "MOUSE_DOWN" {
                "mouseDown"
            } else {
                "mouseUp"
            };
            match button(&params).map_err(ctx)? {
                Some(b) => format!("pyautogui.{f}(button={b})"),
                None => format!("pyautogui.{f}()"),
            }
        }
        "RIGHT_CLICK" | "DOUBLE_CLICK" => {
            let f = if ty == "RIGHT_CLICK" {
                "rightClick"
            } else {
                "doubleClick"
            };
            match xy()? {
                Some((x, y)) => format!("pyautogui.{f}(x={x}, y={y})"),
                None => format!("pyautogui.{f}()"),
            }
        }
        "DRAG_TO" => match xy()? {
            Some((x, y)) => {
                format!("pyautogui.dragTo({x}, {y}, duration=1.0, button='left', mouseDownUp=True)")
            }
            None => return Err(ctx("`x` and `y` are required".into())),
        },
        "SCROLL" => {
            let dx = number(&params, "dx").map_err(ctx)?;
            let dy = number(&params, "dy").map_err(ctx)?;
            match (dx, dy) {
                (Some(dx), Some(dy)) => format!("pyautogui.hscroll({dx}); pyautogui.vscroll({dy})"),
                (Some(dx), None) => format!("pyautogui.hscroll({dx})"),
                (None, Some(dy)) => format!("pyautogui.vscroll({dy})"),
                (None, None) => return Err(ctx("give `dx`, `dy` or both".into())),
            }
        }
        "TYPING" => match params.get("text") {
            Some(Value::String(s)) => format!("pyautogui.typewrite({})", py_str(s)),
            _ => return Err(ctx("`text` must be a string".into())),
        },
        "PRESS" => format!("pyautogui.press({})", key(&params).map_err(ctx)?),
        "KEY_DOWN" => format!("pyautogui.keyDown({})", key(&params).map_err(ctx)?),
        "KEY_UP" => format!("pyautogui.keyUp({})", key(&params).map_err(ctx)?),
        "HOTKEY" => {
            let keys = params
                .get("keys")
                .and_then(Value::as_array)
                .ok_or_else(|| ctx("`keys` must be a list of key names".into()))?;
            let keys = keys
                .iter()
                .map(|k| match k.as_str() {
                    Some(k) if is_keyboard_key(k) => Ok(py_str(k)),
                    _ => Err(ctx(format!("`{k}` is not a pyautogui key name"))),
                })
                .collect::<Result<Vec<_>, _>>()?;
            if keys.is_empty() {
                return Err(ctx("`keys` is empty".into()));
            }
            format!("pyautogui.hotkey({})", keys.join(", "))
        }
        other => {
            return Err(format!(
                "unknown computer_13 action_type `{other}` (valid: MOVE_TO, CLICK, MOUSE_DOWN, MOUSE_UP, \
                 RIGHT_CLICK, DOUBLE_CLICK, DRAG_TO, SCROLL, TYPING, PRESS, KEY_DOWN, KEY_UP, HOTKEY, \
                 WAIT, FAIL, DONE)"
            ));
        }
    };
    Ok(Act::Code(code))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn els(n: usize) -> Vec<Element> {
        (0..n)
            .map(|i| Element {
                role: "push-button".into(),
                name: format!("b{i}"),
                text: String::new(),
                x: 10 * i as i64,
                y: 20,
                w: 10,
                h: 10,
            })
            .collect()
    }

    #[test]
    fn the_table_round_trips_and_labels_every_action() {
        let t = ActionTable {
            elements: 4,
            slots: 2,
        };
        assert_eq!(t.len(), 4 + 4 + 8 + KEYS.len() + HOTKEYS.len() + 5);
        for i in 0..t.len() {
            assert_eq!(t.index(t.decode(i).unwrap()), i);
        }
        assert_eq!(t.decode(t.len()), None);
        let l = t.labels();
        assert_eq!(l.len(), t.len());
        assert_eq!(l[0], "click e0");
        assert_eq!(l[5], "double_click e1");
        assert_eq!(l[8 + 2 + 1], "type slot1 into e1");
        assert_eq!(l[t.len() - 3], "DONE");
        assert_eq!(l[t.len() - 1], "WAIT");
        assert!(l.contains(&"hotkey ctrl+alt+t".to_owned()));
    }

    #[test]
    fn masks_hide_missing_elements_and_slots() {
        let t = ActionTable {
            elements: 4,
            slots: 2,
        };
        let m = t.mask(2, 1);
        assert!(m[0] && m[1] && !m[2] && !m[3]);
        assert!(
            m[t.index(Discrete::Type {
                element: 1,
                slot: 0
            })]
        );
        assert!(
            !m[t.index(Discrete::Type {
                element: 1,
                slot: 1
            })]
        );
        assert!(
            !m[t.index(Discrete::Type {
                element: 2,
                slot: 0
            })]
        );
        assert!(m[t.index(Discrete::Special(Special::Fail))]);
        assert!(t.mask(0, 0).iter().any(|&b| b));
    }

    #[test]
    fn text_actions_in_the_set_of_marks_space_are_labels_or_free_typing() {
        let t = ActionTable {
            elements: 4,
            slots: 1,
        };
        let e = els(2);
        let slots = vec!["a".to_owned()];
        // Every label does what its discrete action does.
        for (i, label) in t.labels().iter().enumerate() {
            assert_eq!(
                t.act_text(&format!(" {label}\n"), &e, &slots),
                t.act(i, &e, &slots),
                "{label}"
            );
        }
        // Free text, with no text slot for it.
        assert_eq!(
            t.act_text("type e1: ls -la ~/Desktop\n", &e, &slots)
                .unwrap(),
            Act::Code("pyautogui.click(15, 25); pyautogui.typewrite('ls -la ~/Desktop')".into())
        );
        assert_eq!(
            t.act_text("type:  two spaces: 'q'", &e, &[]).unwrap(),
            Act::Code(r#"pyautogui.typewrite(' two spaces: \'q\'')"#.into())
        );
        for (bad, why) in [
            ("type e3: x", "only 2 elements are on screen"),
            ("type e1:", "types nothing"),
            ("type ex: y", "not a set-of-marks action"),
            ("click the button", "not a set-of-marks action"),
            ("click e2", "masked"),
            ("", "not a set-of-marks action"),
        ] {
            let err = t.act_text(bad, &e, &slots).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
        }
    }

    #[test]
    fn discrete_actions_become_pyautogui_code() {
        let t = ActionTable {
            elements: 4,
            slots: 2,
        };
        let e = els(2);
        let slots = vec!["it's \"x\"\n".to_owned()];
        assert_eq!(
            t.act(1, &e, &slots).unwrap(),
            Act::Code("pyautogui.click(15, 25)".into())
        );
        assert_eq!(
            t.act(t.index(Discrete::DoubleClick(0)), &e, &slots)
                .unwrap(),
            Act::Code("pyautogui.doubleClick(5, 25)".into())
        );
        assert_eq!(
            t.act(
                t.index(Discrete::Type {
                    element: 0,
                    slot: 0
                }),
                &e,
                &slots
            )
            .unwrap(),
            Act::Code(r#"pyautogui.click(5, 25); pyautogui.typewrite('it\'s "x"\n')"#.into())
        );
        assert_eq!(
            t.act(t.index(Discrete::Press(0)), &e, &slots).unwrap(),
            Act::Code("pyautogui.press('enter')".into())
        );
        assert_eq!(
            t.act(t.index(Discrete::Hotkey(8)), &e, &slots).unwrap(),
            Act::Code("pyautogui.hotkey('ctrl', 'alt', 't')".into())
        );
        assert_eq!(
            t.act(t.index(Discrete::Scroll(-5)), &e, &slots).unwrap(),
            Act::Code("pyautogui.scroll(-5)".into())
        );
        assert_eq!(
            t.act(t.len() - 3, &e, &slots).unwrap(),
            Act::Special(Special::Done)
        );
        assert!(t.act(2, &e, &slots).unwrap_err().contains("masked"));
        assert!(
            t.act(
                t.index(Discrete::Type {
                    element: 0,
                    slot: 1
                }),
                &e,
                &slots
            )
            .is_err()
        );
        assert!(
            t.act(t.len(), &e, &slots)
                .unwrap_err()
                .contains("out of range")
        );
    }

    #[test]
    fn python_literals_escape() {
        assert_eq!(py_str("a'b\\c"), r"'a\'b\\c'");
        assert_eq!(py_str("\u{1}"), r"'\x01'");
        assert_eq!(py_str("héllo"), "'héllo'");
    }

    #[test]
    fn pyautogui_text_actions() {
        assert_eq!(
            parse_pyautogui(" DONE\n").unwrap(),
            Act::Special(Special::Done)
        );
        assert_eq!(
            parse_pyautogui("FAIL").unwrap(),
            Act::Special(Special::Fail)
        );
        assert_eq!(
            parse_pyautogui("pyautogui.click(1, 2)").unwrap(),
            Act::Code("pyautogui.click(1, 2)".into())
        );
        assert!(parse_pyautogui("  ").is_err());
        assert_eq!(
            python_command("pyautogui.press('a')")[2],
            "import pyautogui; import time; pyautogui.FAILSAFE = False; pyautogui.press('a')"
        );
    }

    #[test]
    fn computer13_actions_translate() {
        let c = |s: &str| parse_computer13(s);
        assert_eq!(
            c(r#"{"action_type": "CLICK", "parameters": {"button": "left", "x": 10, "y": 20, "num_clicks": 2}}"#).unwrap(),
            Act::Code("pyautogui.click(button='left', x=10, y=20, clicks=2)".into())
        );
        assert_eq!(
            c(r#"{"action_type": "CLICK"}"#).unwrap(),
            Act::Code("pyautogui.click()".into())
        );
        assert_eq!(
            c(r#"{"action_type": "CLICK", "x": 3, "y": 4}"#).unwrap(),
            Act::Code("pyautogui.click(x=3, y=4)".into())
        );
        assert_eq!(
            c(r#"{"action_type": "MOVE_TO", "parameters": {"x": 1.5, "y": 2}}"#).unwrap(),
            Act::Code("pyautogui.moveTo(1.5, 2)".into())
        );
        assert_eq!(
            c(r#"{"action_type": "TYPING", "parameters": {"text": "echo 'hi'"}}"#).unwrap(),
            Act::Code(r"pyautogui.typewrite('echo \'hi\'')".into())
        );
        assert_eq!(
            c(r#"{"action_type": "HOTKEY", "parameters": {"keys": ["ctrl", "shift", "t"]}}"#)
                .unwrap(),
            Act::Code("pyautogui.hotkey('ctrl', 'shift', 't')".into())
        );
        assert_eq!(
            c(r#"{"action_type": "SCROLL", "parameters": {"dx": 0, "dy": -3}}"#).unwrap(),
            Act::Code("pyautogui.hscroll(0); pyautogui.vscroll(-3)".into())
        );
        assert_eq!(
            c(r#"{"action_type": "DRAG_TO", "parameters": {"x": 5, "y": 6}}"#).unwrap(),
            Act::Code(
                "pyautogui.dragTo(5, 6, duration=1.0, button='left', mouseDownUp=True)".into()
            )
        );
        assert_eq!(
            c(r#"{"action_type": "FAIL"}"#).unwrap(),
            Act::Special(Special::Fail)
        );
        assert_eq!(c("WAIT").unwrap(), Act::Special(Special::Wait));
        assert!(c(r#"{"action_type": "PRESS", "parameters": {"key": "notakey"}}"#).is_err());
        assert!(
            c(r#"{"action_type": "CLICK", "parameters": {"x": "1); import os; (", "y": 2}}"#)
                .is_err()
        );
        assert!(c(r#"{"action_type": "CLICK", "parameters": {"x": 1}}"#).is_err());
        assert!(
            c(r#"{"action_type": "JUMP"}"#)
                .unwrap_err()
                .contains("MOVE_TO")
        );
        assert!(c("pyautogui.click()").is_err());
    }

    #[test]
    fn key_names() {
        for k in ["enter", "a", "F5", "num7", "ctrl", "/", "pgdn"] {
            assert!(is_keyboard_key(k), "{k}");
        }
        for k in ["f25", "ctl", "", "numx"] {
            assert!(!is_keyboard_key(k), "{k}");
        }
    }
}
