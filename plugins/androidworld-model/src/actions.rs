//! The discrete action table: which choices the agent has, their labels, which are
//! allowed, and the `JSONAction` each one sends.

use crate::config::Config;
use crate::error::AwError;
use crate::json_action::{DIRECTIONS, JsonAction};

/// One discrete choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// `status` with `goal_status` `complete`: the agent says the task is done.
    Complete,
    /// `status` with `goal_status` `infeasible`: the agent says it cannot be done.
    Infeasible,
    /// `navigate_home`.
    Home,
    /// `navigate_back`.
    Back,
    /// `keyboard_enter`.
    Enter,
    /// `wait`.
    Wait,
    /// `scroll` in a direction (`up`, `down`, `left`, `right`).
    Scroll(&'static str),
    /// `click` at the centre of grid cell (column, row).
    ClickCell(u32, u32),
    /// `click` on UI element `index`.
    ClickElement(u32),
    /// `input_text` of text slot `j` (into the focused field).
    Type(u32),
    /// `open_app` of a configured app.
    OpenApp(String),
}

/// What a choice needs from the episode to become a `JSONAction`.
#[derive(Debug, Clone, Copy)]
pub struct Screen {
    /// Device screen width in pixels (from the latest screenshot).
    pub width: u32,
    /// Device screen height in pixels.
    pub height: u32,
}

/// The discrete actions of one configuration, in index order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionTable {
    choices: Vec<Choice>,
    grid: (u32, u32),
}

impl ActionTable {
    /// The table for `config`: the status pair, home, back, enter, wait, the four
    /// scrolls, the grid cells row by row, the element clicks, the text slots, the apps.
    pub fn new(config: &Config) -> Self {
        let mut choices = vec![
            Choice::Complete,
            Choice::Infeasible,
            Choice::Home,
            Choice::Back,
            Choice::Enter,
            Choice::Wait,
        ];
        choices.extend(DIRECTIONS.into_iter().map(Choice::Scroll));
        for r in 0..config.grid_rows {
            for c in 0..config.grid_cols {
                choices.push(Choice::ClickCell(c, r));
            }
        }
        choices.extend((0..config.element_clicks).map(Choice::ClickElement));
        choices.extend((0..config.slot_count()).map(Choice::Type));
        choices.extend(config.apps.iter().cloned().map(Choice::OpenApp));
        ActionTable {
            choices,
            grid: (config.grid_cols, config.grid_rows),
        }
    }

    /// How many discrete actions there are.
    pub fn len(&self) -> u32 {
        self.choices.len() as u32
    }

    /// Never true: the status and navigation actions are always there.
    pub fn is_empty(&self) -> bool {
        self.choices.is_empty()
    }

    /// Every choice, in index order.
    pub fn choices(&self) -> &[Choice] {
        &self.choices
    }

    /// The choice at `index`.
    pub fn get(&self, index: u32) -> Result<&Choice, AwError> {
        self.choices.get(index as usize).ok_or_else(|| {
            AwError::InvalidAction(format!(
                "discrete action {index} is out of range (this configuration has {} actions, 0..{})",
                self.len(),
                self.len()
            ))
        })
    }

    /// One label per action, e.g. `status complete`, `click cell (1,2)`, `type slot 0`.
    pub fn labels(&self) -> Vec<String> {
        self.choices
            .iter()
            .map(|c| match c {
                Choice::Complete => "status complete".into(),
                Choice::Infeasible => "status infeasible".into(),
                Choice::Home => "navigate home".into(),
                Choice::Back => "navigate back".into(),
                Choice::Enter => "keyboard enter".into(),
                Choice::Wait => "wait".into(),
                Choice::Scroll(d) => format!("scroll {d}"),
                Choice::ClickCell(c, r) => format!("click cell ({c},{r})"),
                Choice::ClickElement(i) => format!("click element {i}"),
                Choice::Type(j) => format!("type slot {j}"),
                Choice::OpenApp(a) => format!("open app {a}"),
            })
            .collect()
    }

    /// Which actions are allowed: all but the text slots that have no string.
    pub fn mask(&self, slots: &[String]) -> Vec<bool> {
        self.choices
            .iter()
            .map(|c| match c {
                Choice::Type(j) => (*j as usize) < slots.len(),
                _ => true,
            })
            .collect()
    }

    /// The `JSONAction` of `choice` on a `screen` with the episode's text `slots`.
    pub fn to_json_action(
        &self,
        choice: &Choice,
        screen: Screen,
        slots: &[String],
    ) -> Result<JsonAction, AwError> {
        let status = |s: &str| JsonAction {
            goal_status: Some(s.into()),
            ..JsonAction::of("status")
        };
        Ok(match choice {
            Choice::Complete => status("complete"),
            Choice::Infeasible => status("infeasible"),
            Choice::Home => JsonAction::of("navigate_home"),
            Choice::Back => JsonAction::of("navigate_back"),
            Choice::Enter => JsonAction::of("keyboard_enter"),
            Choice::Wait => JsonAction::of("wait"),
            Choice::Scroll(d) => JsonAction {
                direction: Some((*d).into()),
                ..JsonAction::of("scroll")
            },
            Choice::ClickCell(c, r) => {
                let (cols, rows) = self.grid;
                let centre = |i: u32, n: u32, side: u32| {
                    ((2 * u64::from(i) + 1) * u64::from(side) / (2 * u64::from(n))) as i64
                };
                JsonAction {
                    x: Some(centre(*c, cols, screen.width)),
                    y: Some(centre(*r, rows, screen.height)),
                    ..JsonAction::of("click")
                }
            }
            Choice::ClickElement(i) => JsonAction {
                index: Some(i64::from(*i)),
                ..JsonAction::of("click")
            },
            Choice::Type(j) => {
                let text = slots.get(*j as usize).ok_or_else(|| {
                    AwError::InvalidAction(format!(
                        "type slot {j}: this task has {} text slot(s) (the action is masked)",
                        slots.len()
                    ))
                })?;
                JsonAction {
                    text: Some(text.clone()),
                    ..JsonAction::of("input_text")
                }
            }
            Choice::OpenApp(a) => JsonAction {
                app_name: Some(a.clone()),
                ..JsonAction::of("open_app")
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> ActionTable {
        ActionTable::new(
            &Config::from_json(
                r#"{"grid_cols":2,"grid_rows":3,"element_clicks":2,"n_text_slots":2,"apps":["Contacts"]}"#,
            )
            .unwrap(),
        )
    }

    #[test]
    fn the_table_has_every_part_in_order_with_labels() {
        let t = table();
        // 6 fixed + 4 scrolls + 6 cells + 2 elements + 2 slots + 1 app
        assert_eq!(t.len(), 21);
        let labels = t.labels();
        assert_eq!(labels.len(), 21);
        assert_eq!(
            &labels[..11],
            [
                "status complete",
                "status infeasible",
                "navigate home",
                "navigate back",
                "keyboard enter",
                "wait",
                "scroll up",
                "scroll down",
                "scroll left",
                "scroll right",
                "click cell (0,0)"
            ]
        );
        assert_eq!(labels[11], "click cell (1,0)");
        assert_eq!(labels[15], "click cell (1,2)");
        assert_eq!(
            &labels[16..],
            [
                "click element 0",
                "click element 1",
                "type slot 0",
                "type slot 1",
                "open app Contacts"
            ]
        );
        let default = ActionTable::new(&Config::default());
        assert_eq!(default.len(), 10 + 32 + 10 + 4);
        assert!(!default.is_empty());
    }

    #[test]
    fn choices_map_to_json_actions() {
        let t = table();
        let screen = Screen {
            width: 1080,
            height: 2400,
        };
        let slots = vec!["Grace Taylor".to_owned()];
        let json = |i: u32| {
            t.to_json_action(t.get(i).unwrap(), screen, &slots)
                .unwrap()
                .to_json()
        };
        assert_eq!(
            json(0),
            r#"{"action_type":"status","goal_status":"complete"}"#
        );
        assert_eq!(
            json(1),
            r#"{"action_type":"status","goal_status":"infeasible"}"#
        );
        assert_eq!(json(2), r#"{"action_type":"navigate_home"}"#);
        assert_eq!(json(3), r#"{"action_type":"navigate_back"}"#);
        assert_eq!(json(4), r#"{"action_type":"keyboard_enter"}"#);
        assert_eq!(json(5), r#"{"action_type":"wait"}"#);
        assert_eq!(json(7), r#"{"action_type":"scroll","direction":"down"}"#);
        // cell (0,0) of a 2×3 grid: centre (270, 400); cell (1,2): (810, 2000)
        assert_eq!(json(10), r#"{"action_type":"click","x":270,"y":400}"#);
        assert_eq!(json(15), r#"{"action_type":"click","x":810,"y":2000}"#);
        assert_eq!(json(17), r#"{"action_type":"click","index":1}"#);
        assert_eq!(
            json(18),
            r#"{"action_type":"input_text","text":"Grace Taylor"}"#
        );
        assert_eq!(
            json(20),
            r#"{"action_type":"open_app","app_name":"Contacts"}"#
        );
        // Every mapped action passes the raw-action validation.
        for i in 0..t.len() {
            if let Ok(a) = t.to_json_action(t.get(i).unwrap(), screen, &slots) {
                a.validate().unwrap();
            }
        }
    }

    #[test]
    fn empty_slots_are_masked_and_refused_and_out_of_range_is_invalid() {
        let t = table();
        let mask = t.mask(&["a".to_owned()]);
        assert_eq!(mask.iter().filter(|m| !**m).count(), 1);
        assert!(!mask[19]);
        let e = t
            .to_json_action(
                t.get(19).unwrap(),
                Screen {
                    width: 1,
                    height: 1,
                },
                &["a".to_owned()],
            )
            .unwrap_err();
        assert!(matches!(e, AwError::InvalidAction(m) if m.contains("1 text slot")));
        let e = t.get(21).unwrap_err();
        assert!(
            matches!(e, AwError::InvalidAction(m) if m.contains("21 is out of range") && m.contains("21 actions"))
        );
    }
}
