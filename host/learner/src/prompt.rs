//! The text a language-model policy reads for one decision: the task instruction, the
//! observation's text, the last H actions taken, and either the actions available now
//! (choice mode) or how to write one (generate mode). Plain functions, the same for
//! acting, for training samples and for augmentation candidates.

/// The task and what is seen now, the opening of every prompt.
fn situation(instruction: &str, observation: &str) -> String {
    format!(
        "Task: {}\n\nWhat you see now:\n{}\n",
        instruction.trim(),
        observation.trim_end()
    )
}

/// The user message for one decision. `labels` are the names of every discrete action,
/// `mask` the valid ones now, `recent` the labels of the last actions (oldest first).
pub fn choice_prompt(
    instruction: &str,
    observation: &str,
    labels: &[String],
    mask: &[bool],
    recent: &[&str],
) -> String {
    let mut s = situation(instruction, observation);
    if !recent.is_empty() {
        s.push_str("\nYour last actions: ");
        s.push_str(&recent.join("; "));
        s.push('\n');
    }
    s.push_str("\nAvailable actions:\n");
    for (label, ok) in labels.iter().zip(mask) {
        if *ok {
            s.push_str("- ");
            s.push_str(label);
            s.push('\n');
        }
    }
    s.push_str("\nReply with exactly one of the available actions.");
    s
}

/// The user message for one decision of a generating policy: `recent` are the last
/// actions' texts (oldest first), `hint` says how to write an action (the run config's
/// `policy.action_hint`; a default request when empty).
pub fn generate_prompt(
    instruction: &str,
    observation: &str,
    recent: &[&str],
    hint: &str,
) -> String {
    let mut s = situation(instruction, observation);
    if !recent.is_empty() {
        s.push_str("\nYour last actions:\n");
        for r in recent {
            s.push_str("- ");
            s.push_str(r.trim());
            s.push('\n');
        }
    }
    s.push('\n');
    if hint.trim().is_empty() {
        s.push_str("Reply with the next action only.");
    } else {
        s.push_str(hint.trim());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generate_prompt_ends_in_the_hint_or_the_default_request() {
        let p = generate_prompt("Open the file", "desktop\n", &[], "");
        assert_eq!(
            p,
            "Task: Open the file\n\nWhat you see now:\ndesktop\n\nReply with the next action only."
        );
        let p = generate_prompt(
            "t",
            "o",
            &["pyautogui.click(1, 2)"],
            " Reply with one line of pyautogui code. ",
        );
        assert!(
            p.contains("\nYour last actions:\n- pyautogui.click(1, 2)\n"),
            "{p}"
        );
        assert!(
            p.ends_with("\nReply with one line of pyautogui code."),
            "{p}"
        );
    }

    #[test]
    fn the_prompt_lists_only_valid_actions_and_recent_ones_when_any() {
        let labels: Vec<String> = ["tap wifi", "back", "home"].map(String::from).to_vec();
        let p = choice_prompt(
            " Turn wifi on ",
            "Settings\n  wifi: off\n",
            &labels,
            &[true, false, true],
            &[],
        );
        assert_eq!(
            p,
            "Task: Turn wifi on\n\nWhat you see now:\nSettings\n  wifi: off\n\n\
             Available actions:\n- tap wifi\n- home\n\n\
             Reply with exactly one of the available actions."
        );
        let p = choice_prompt("t", "o", &labels, &[true; 3], &["home", "tap wifi"]);
        assert!(p.contains("\nYour last actions: home; tap wifi\n"), "{p}");
        assert!(p.contains("- back\n"));
    }
}
