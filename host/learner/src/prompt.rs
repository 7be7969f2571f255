//! The text a language-model policy reads for one decision: the task instruction, the
//! observation's text, the last H actions taken and the actions available now, ending
//! in the request for one of them. A plain function, the same for acting, for training
//! samples and for augmentation candidates.

/// The user message for one decision. `labels` are the names of every discrete action,
/// `mask` the valid ones now, `recent` the labels of the last actions (oldest first).
pub fn choice_prompt(
    instruction: &str,
    observation: &str,
    labels: &[String],
    mask: &[bool],
    recent: &[&str],
) -> String {
    let mut s = String::new();
    s.push_str("Task: ");
    s.push_str(instruction.trim());
    s.push_str("\n\nWhat you see now:\n");
    s.push_str(observation.trim_end());
    s.push('\n');
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

#[cfg(test)]
mod tests {
    use super::*;

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
