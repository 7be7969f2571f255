//! The screen as text: the UI element list a patched AndroidWorld server returns from
//! `GET /ui_elements` (each element of `env.get_state().ui_elements` as
//! `dataclasses.asdict` writes it; the route is `server-patch/ui_elements.patch`),
//! rendered one numbered line per element. The numbers are the elements' indices, so
//! a language model can answer with an index-based `JSONAction`
//! (`{"action_type": "click", "index": 3}`).

use serde::Deserialize;

/// Whether observations carry the UI element list (`[env.config] ui_elements`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum UiElementsMode {
    /// When the server answers `/ui_elements` (a server without the route answers 404
    /// and observations keep the goal line and the screenshot).
    #[default]
    Auto,
    /// Always; a server without the route is an error naming the patch.
    On,
    /// Never (no `/ui_elements` request).
    Off,
}

/// A pixel bounding box (`BoundingBox` of android_world).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Default)]
#[serde(default)]
pub struct PixelBox {
    /// Left.
    pub x_min: f64,
    /// Right.
    pub x_max: f64,
    /// Top.
    pub y_min: f64,
    /// Bottom.
    pub y_max: f64,
}

/// One UI element: the fields of android_world's `UIElement` the rendering reads
/// (others are ignored; absent ones take their defaults).
#[derive(Debug, Clone, PartialEq, Deserialize, Default)]
#[serde(default)]
pub struct UiElement {
    /// Visible text.
    pub text: Option<String>,
    /// Accessibility description.
    pub content_description: Option<String>,
    /// Android view class, e.g. `android.widget.Switch`.
    pub class_name: Option<String>,
    /// Placeholder text of an editable field.
    pub hint_text: Option<String>,
    /// Resource name, e.g. `com.android.settings:id/switch_widget`.
    pub resource_name: Option<String>,
    /// Position on the screen in pixels.
    pub bbox_pixels: Option<PixelBox>,
    /// Checkable (a switch, a checkbox).
    pub is_checkable: Option<bool>,
    /// Checked.
    pub is_checked: Option<bool>,
    /// Clickable.
    pub is_clickable: Option<bool>,
    /// Editable (a text field).
    pub is_editable: Option<bool>,
    /// Scrollable.
    pub is_scrollable: Option<bool>,
    /// Long-clickable.
    pub is_long_clickable: Option<bool>,
    /// Selected.
    pub is_selected: Option<bool>,
}

/// The `/ui_elements` response body.
#[derive(Debug, Clone, Deserialize)]
pub struct UiElementsReply {
    /// The elements, in the server's index order.
    pub ui_elements: Vec<UiElement>,
}

fn some(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl UiElement {
    /// One line: `[i] Switch "Wi-Fi" (checkable, checked, clickable) at (72, 60)`.
    pub fn line(&self, i: usize) -> String {
        let class = self
            .class_name
            .as_deref()
            .and_then(|c| c.rsplit('.').next())
            .filter(|c| !c.is_empty())
            .unwrap_or("View");
        let mut s = format!("[{i}] {class}");
        if let Some(t) = some(&self.text) {
            s.push_str(&format!(" \"{t}\""));
        }
        if let Some(d) = some(&self.content_description)
            && some(&self.text) != Some(d)
        {
            s.push_str(&format!(" desc=\"{d}\""));
        }
        if let Some(h) = some(&self.hint_text) {
            s.push_str(&format!(" hint=\"{h}\""));
        }
        if some(&self.text).is_none()
            && some(&self.content_description).is_none()
            && let Some(r) = some(&self.resource_name)
        {
            s.push_str(&format!(" id={}", r.rsplit('/').next().unwrap_or(r)));
        }
        let flag = |b: Option<bool>| b == Some(true);
        let mut flags = Vec::new();
        if flag(self.is_checkable) {
            flags.push(if flag(self.is_checked) {
                "checked"
            } else {
                "unchecked"
            });
        }
        for (on, name) in [
            (self.is_clickable, "clickable"),
            (self.is_long_clickable, "long-clickable"),
            (self.is_editable, "editable"),
            (self.is_scrollable, "scrollable"),
            (self.is_selected, "selected"),
        ] {
            if flag(on) {
                flags.push(name);
            }
        }
        if !flags.is_empty() {
            s.push_str(&format!(" ({})", flags.join(", ")));
        }
        if let Some(b) = self.bbox_pixels {
            s.push_str(&format!(
                " at ({:.0}, {:.0})",
                (b.x_min + b.x_max) / 2.0,
                (b.y_min + b.y_max) / 2.0
            ));
        }
        s
    }
}

/// The element list as text, one numbered line each (at most `max` lines, then a
/// count of the rest).
pub fn render(elements: &[UiElement], max: usize) -> String {
    let mut s = String::from("UI elements (click or type into one by its index):");
    if elements.is_empty() {
        s.push_str("\n(none)");
    }
    for (i, e) in elements.iter().take(max).enumerate() {
        s.push('\n');
        s.push_str(&e.line(i));
    }
    if elements.len() > max {
        s.push_str(&format!("\n... {} more", elements.len() - max));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn elements_parse_from_the_dataclass_form_and_render_one_line_each() {
        let body = r#"{"ui_elements": [
            {"text": "Wi-Fi", "content_description": null, "class_name": "android.widget.Switch",
             "bbox": null, "bbox_pixels": {"x_min": 0, "x_max": 144, "y_min": 40, "y_max": 80},
             "hint_text": null, "is_checked": true, "is_checkable": true, "is_clickable": true,
             "is_editable": false, "is_enabled": true, "is_focused": false, "is_focusable": true,
             "is_long_clickable": false, "is_scrollable": false, "is_selected": false,
             "is_visible": true, "package_name": "com.android.settings",
             "resource_name": "android:id/switch_widget", "tooltip": null, "resource_id": null,
             "metadata": null},
            {"class_name": "android.widget.EditText", "hint_text": "Name", "is_editable": true},
            {"resource_name": "com.x:id/fab", "content_description": "Create contact",
             "is_clickable": true}
        ]}"#;
        let r: UiElementsReply = serde_json::from_str(body).unwrap();
        assert_eq!(
            render(&r.ui_elements, 10),
            "UI elements (click or type into one by its index):\n\
             [0] Switch \"Wi-Fi\" (checked, clickable) at (72, 60)\n\
             [1] EditText hint=\"Name\" (editable)\n\
             [2] View desc=\"Create contact\" (clickable)"
        );
        assert!(render(&r.ui_elements, 1).ends_with("\n... 2 more"));
        assert!(render(&[], 5).ends_with("\n(none)"));
    }
}
