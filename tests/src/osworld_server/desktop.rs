//! The simulated desktop: apps, windows and their accessibility tree.

use super::*;

/// What a window shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum App {
    /// A terminal: the scrollback before the current prompt, and the typed line.
    Terminal {
        /// Everything before the current prompt.
        history: String,
        /// The line being typed.
        input: String,
    },
    /// A text editor on a file.
    Editor {
        /// The file.
        path: String,
        /// The (possibly unsaved) text.
        content: String,
    },
}

/// A window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    /// Title (wmctrl matches it).
    pub title: String,
    /// WM class.
    pub class: String,
    /// The application.
    pub app: App,
    /// Geometry.
    pub x: i64,
    /// Top.
    pub y: i64,
    /// Width.
    pub w: i64,
    /// Height.
    pub h: i64,
}

impl Window {
    pub(crate) fn terminal() -> Window {
        Window {
            title: "Terminal".into(),
            class: "gnome-terminal-server".into(),
            app: App::Terminal {
                history: String::new(),
                input: String::new(),
            },
            x: 70,
            y: 80,
            w: 900,
            h: 640,
        }
    }

    pub(crate) fn editor(path: &str, content: String) -> Window {
        Window {
            title: format!("{} - Text Editor", base(path)),
            class: "gedit".into(),
            app: App::Editor {
                path: path.into(),
                content,
            },
            x: 1000,
            y: 80,
            w: 880,
            h: 640,
        }
    }

    /// The terminal's text (scrollback, prompt and typed line).
    pub fn terminal_text(&self) -> Option<String> {
        match &self.app {
            App::Terminal { history, input } => Some(format!("{history}{PROMPT}{input}")),
            App::Editor { .. } => None,
        }
    }
}

/// What a UI element does when clicked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Activities,
    Widget(usize),
    Save(usize),
    Close(usize),
}

pub(crate) struct UiElement {
    pub(crate) role: &'static str,
    pub(crate) name: String,
    pub(crate) text: String,
    pub(crate) x: i64,
    pub(crate) y: i64,
    pub(crate) w: i64,
    pub(crate) h: i64,
    pub(crate) target: Target,
}

impl UiElement {
    pub(crate) fn contains(&self, x: i64, y: i64) -> bool {
        x >= self.x && x < self.x + self.w && y >= self.y && y < self.y + self.h
    }
}

/// The simulated desktop: windows (last = active), keyboard focus, mouse, scroll.
#[derive(Debug, Clone, Default)]
pub struct Desktop {
    /// Windows, bottom to top.
    pub windows: Vec<Window>,
    /// Whether the active window's main widget has keyboard focus.
    pub focused: bool,
    /// Mouse position.
    pub mouse: (i64, i64),
    /// Accumulated scroll clicks.
    pub scroll: i64,
    /// The wallpaper path.
    pub wallpaper: Option<String>,
}

impl Desktop {
    pub(crate) fn elements(&self) -> Vec<UiElement> {
        let mut out = vec![UiElement {
            role: "push-button",
            name: "Activities".into(),
            text: String::new(),
            x: 0,
            y: 0,
            w: 100,
            h: 32,
            target: Target::Activities,
        }];
        for (i, w) in self.windows.iter().enumerate() {
            out.push(UiElement {
                role: "push-button",
                name: "Close".into(),
                text: String::new(),
                x: w.x + w.w - 40,
                y: w.y,
                w: 40,
                h: 40,
                target: Target::Close(i),
            });
            match &w.app {
                App::Terminal { .. } => out.push(UiElement {
                    role: "terminal",
                    name: "Terminal".into(),
                    text: w.terminal_text().unwrap_or_default(),
                    x: w.x,
                    y: w.y + 40,
                    w: w.w,
                    h: w.h - 40,
                    target: Target::Widget(i),
                }),
                App::Editor { content, .. } => {
                    out.push(UiElement {
                        role: "push-button",
                        name: "Save".into(),
                        text: String::new(),
                        x: w.x + w.w - 120,
                        y: w.y,
                        w: 80,
                        h: 40,
                        target: Target::Save(i),
                    });
                    out.push(UiElement {
                        role: "text",
                        name: "Document".into(),
                        text: content.clone(),
                        x: w.x,
                        y: w.y + 80,
                        w: w.w,
                        h: w.h - 80,
                        target: Target::Widget(i),
                    });
                }
            }
        }
        out
    }

    pub(crate) fn active(&self) -> Option<usize> {
        self.windows.len().checked_sub(1)
    }

    pub(crate) fn raise(&mut self, i: usize) -> usize {
        let w = self.windows.remove(i);
        self.windows.push(w);
        self.windows.len() - 1
    }

    /// Index of the window wmctrl would pick for `name`.
    pub fn find_window(&self, name: &str, strict: bool, by_class: bool) -> Option<usize> {
        self.windows.iter().rposition(|w| {
            let hay = if by_class { &w.class } else { &w.title };
            if strict {
                hay == name
            } else {
                hay.to_lowercase().contains(&name.to_lowercase())
            }
        })
    }
}
