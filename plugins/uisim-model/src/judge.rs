//! Judging a finished uisim episode: success only if the goal holds, nothing else was
//! changed, and the agent said done. The expected state is rebuilt from the task id and
//! seed, so the checker does not trust the environment's account of the start.

use sim_kit::{JudgeError, Judgement};

use crate::SUITE;
use crate::apps::{Apps, Setting};
use crate::sim::FinalState;
use crate::tasks;

/// Judge `state`, the final state of an episode of `task_id` with `seed` whose last
/// action was `done` iff `said_done`.
pub fn judge(
    task_id: &str,
    seed: u64,
    said_done: bool,
    state: &FinalState,
) -> Result<Judgement, JudgeError> {
    let task = tasks::find(task_id).ok_or_else(|| JudgeError::UnknownTask {
        suite: SUITE,
        task: task_id.into(),
    })?;
    if state.task != task_id || state.seed != seed {
        return Err(JudgeError::Mismatch(format!(
            "final state does not match the episode: it is for task `{}` seed {}, \
             the trajectory for `{task_id}` seed {seed}",
            state.task, state.seed
        )));
    }
    let inst = task.instantiate(seed);
    let mut expected = inst.initial.clone();
    inst.goal.apply(&mut expected);
    let fail = |reason: String| {
        Ok(Judgement {
            success: false,
            reason,
        })
    };
    if !said_done {
        return fail("the agent did not say done".into());
    }
    if let Some(screen) = inst.goal.required_screen()
        && state.screen != screen
    {
        return fail(format!(
            "the screen should be `{screen}` but is `{}`",
            state.screen
        ));
    }
    if let Some(diff) = first_difference(&expected, &state.apps) {
        return fail(diff);
    }
    Ok(Judgement {
        success: true,
        reason: format!("goal reached: {}", inst.instruction),
    })
}

/// Describe the first way `actual` differs from `expected`, if any.
pub fn first_difference(expected: &Apps, actual: &Apps) -> Option<String> {
    let (e, a) = (&expected.settings, &actual.settings);
    for s in Setting::ALL {
        if e.get(s) != a.get(s) {
            let on = |b: bool| if b { "on" } else { "off" };
            return Some(format!(
                "{} is {} but should be {}",
                s.label(),
                on(a.get(s)),
                on(e.get(s))
            ));
        }
    }
    if e.brightness != a.brightness {
        return Some(format!(
            "brightness is {} but should be {}",
            a.brightness, e.brightness
        ));
    }
    list_diff("contact", &expected.contacts, &actual.contacts, |c| {
        format!("{} ({})", c.name, c.phone)
    })
    .or_else(|| {
        list_diff("note", &expected.notes, &actual.notes, |n| {
            format!("'{}': '{}'", n.title, n.body)
        })
    })
    .or_else(|| {
        list_diff("alarm", &expected.alarms, &actual.alarms, |a| {
            format!(
                "{}:{:02} {}",
                a.hour,
                a.minute,
                if a.enabled { "on" } else { "off" }
            )
        })
    })
    .or_else(|| {
        list_diff("message", &expected.messages, &actual.messages, |m| {
            format!("to {}: '{}'", m.to, m.body)
        })
    })
}

fn list_diff<T: PartialEq>(
    what: &str,
    expected: &[T],
    actual: &[T],
    show: impl Fn(&T) -> String,
) -> Option<String> {
    if expected == actual {
        return None;
    }
    if let Some(m) = expected.iter().find(|x| !actual.contains(x)) {
        return Some(format!("expected {what} {} is missing", show(m)));
    }
    if let Some(x) = actual.iter().find(|x| !expected.contains(x)) {
        return Some(format!("unexpected {what} {}", show(x)));
    }
    Some(format!("the {what}s are in the wrong order or duplicated"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::{Act, Episode};
    use sim_kit::SimAction;

    fn run(task: &str, seed: u64, acts: &[Act]) -> (FinalState, bool) {
        let mut ep = Episode::new(task, seed).unwrap();
        for a in acts {
            ep.step(a.index()).unwrap();
        }
        (ep.final_state(), acts.last() == Some(&Act::Done))
    }

    #[test]
    fn toggling_the_wrong_setting_is_damage() {
        // Settings is icon 0; wifi toggle 0, bluetooth toggle 1.
        let (s, d) = run(
            "settings.wifi-on",
            0,
            &[Act::Click(0), Act::Click(0), Act::Done],
        );
        assert!(judge("settings.wifi-on", 0, d, &s).unwrap().success);
        let (s, d) = run(
            "settings.wifi-on",
            0,
            &[Act::Click(0), Act::Click(0), Act::Click(1), Act::Done],
        );
        let j = judge("settings.wifi-on", 0, d, &s).unwrap();
        assert!(!j.success);
        assert!(j.reason.contains("Bluetooth"), "{}", j.reason);
    }

    #[test]
    fn goal_without_done_fails() {
        let (s, d) = run("settings.wifi-on", 0, &[Act::Click(0), Act::Click(0)]);
        let j = judge("settings.wifi-on", 0, d, &s).unwrap();
        assert!(!j.success);
        assert!(j.reason.contains("did not say done"));
    }

    #[test]
    fn navigation_goals_check_the_screen() {
        let (s, d) = run("open.clock", 2, &[Act::Click(3), Act::Done]);
        assert!(judge("open.clock", 2, d, &s).unwrap().success);
        let (s, d) = run("open.clock", 2, &[Act::Click(2), Act::Done]);
        let j = judge("open.clock", 2, d, &s).unwrap();
        assert!(!j.success && j.reason.contains("`clock`"), "{}", j.reason);
    }

    #[test]
    fn mismatched_or_unknown_inputs_are_errors() {
        let (s, d) = run("open.clock", 2, &[Act::Done]);
        assert!(matches!(
            judge("open.clock", 3, d, &s),
            Err(JudgeError::Mismatch(_))
        ));
        assert!(matches!(
            judge("nope", 2, d, &s),
            Err(JudgeError::UnknownTask { .. })
        ));
    }
}
