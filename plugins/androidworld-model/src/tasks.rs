//! Task identity and step budgets: the `TaskType#idx` id scheme, and the suite's
//! difficulty and step budget (int(10 × complexity)) of every AndroidWorld task.

use crate::error::AwError;

/// One task instance of the server's suite: a task type (a `TaskEval` class name such as
/// `ContactsAddContact`) and the index of its parameter combination
/// (`0..n_task_combinations`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId {
    /// The task type, as `/suite/task_list` names it.
    pub task_type: String,
    /// The instance index, as `/task/*` endpoints take it.
    pub task_idx: u32,
}

impl TaskId {
    /// A task id from its parts.
    pub fn new(task_type: &str, task_idx: u32) -> Self {
        TaskId {
            task_type: task_type.to_owned(),
            task_idx,
        }
    }

    /// Parse `TaskType#idx` (e.g. `ContactsAddContact#0`).
    pub fn parse(id: &str) -> Result<TaskId, AwError> {
        let bad = |why: &str| {
            AwError::UnknownTask(format!(
                "{id}: {why} (AndroidWorld task ids are `TaskType#index`, e.g. `ContactsAddContact#0`)"
            ))
        };
        let (ty, idx) = id.rsplit_once('#').ok_or_else(|| bad("no `#index`"))?;
        if ty.is_empty() || !ty.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(bad("the task type must be a non-empty identifier"));
        }
        if idx.is_empty() || !idx.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad("the index must be a non-negative integer"));
        }
        let task_idx = idx.parse().map_err(|_| bad("the index is too large"))?;
        Ok(TaskId::new(ty, task_idx))
    }
}

impl std::fmt::Display for TaskId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}#{}", self.task_type, self.task_idx)
    }
}

/// What the suite itself says about a task type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownTask {
    /// The task type.
    pub name: &'static str,
    /// 1 = easy, 2 = medium, 3 = hard (the suite's `task_metadata.json`).
    pub difficulty: u8,
    /// The suite's step budget, int(10 × complexity) (`suite_utils`'s allocation).
    pub step_budget: u32,
}

/// The 116 tasks of the `android_world` family: difficulty from the suite's task
/// metadata, step budget = int(10 × complexity) from each task's complexity
/// (information-retrieval tasks take theirs from the task definitions). Sorted by name.
const KNOWN: &[(&str, u8, u32)] = &[
    ("AudioRecorderRecordAudio", 1, 12),
    ("AudioRecorderRecordAudioWithFileName", 1, 20),
    ("BrowserDraw", 1, 20),
    ("BrowserMaze", 1, 20),
    ("BrowserMultiply", 3, 22),
    ("CameraTakePhoto", 1, 10),
    ("CameraTakeVideo", 2, 10),
    ("ClockStopWatchPausedVerify", 1, 10),
    ("ClockStopWatchRunning", 1, 10),
    ("ClockTimerEntry", 1, 10),
    ("ContactsAddContact", 1, 12),
    ("ContactsNewContactDraft", 1, 12),
    ("ExpenseAddMultiple", 2, 60),
    ("ExpenseAddMultipleFromGallery", 3, 60),
    ("ExpenseAddMultipleFromMarkor", 3, 60),
    ("ExpenseAddSingle", 1, 12),
    ("ExpenseDeleteDuplicates", 2, 12),
    ("ExpenseDeleteDuplicates2", 2, 18),
    ("ExpenseDeleteMultiple", 1, 20),
    ("ExpenseDeleteMultiple2", 3, 34),
    ("ExpenseDeleteSingle", 1, 10),
    ("FilesDeleteFile", 2, 22),
    ("FilesMoveFile", 2, 20),
    ("MarkorAddNoteHeader", 2, 12),
    ("MarkorChangeNoteContent", 2, 12),
    ("MarkorCreateFolder", 1, 10),
    ("MarkorCreateNote", 2, 16),
    ("MarkorCreateNoteAndSms", 3, 18),
    ("MarkorCreateNoteFromClipboard", 2, 14),
    ("MarkorDeleteAllNotes", 1, 14),
    ("MarkorDeleteNewestNote", 1, 10),
    ("MarkorDeleteNote", 1, 10),
    ("MarkorEditNote", 1, 12),
    ("MarkorMergeNotes", 3, 78),
    ("MarkorMoveNote", 2, 14),
    ("MarkorTranscribeReceipt", 2, 18),
    ("MarkorTranscribeVideo", 3, 20),
    ("NotesIsTodo", 1, 10),
    ("NotesMeetingAttendeeCount", 1, 10),
    ("NotesRecipeIngredientCount", 1, 10),
    ("NotesTodoItemCount", 2, 10),
    ("OpenAppTaskEval", 1, 10),
    ("OsmAndFavorite", 2, 13),
    ("OsmAndMarker", 3, 20),
    ("OsmAndTrack", 3, 120),
    ("RecipeAddMultipleRecipes", 2, 60),
    ("RecipeAddMultipleRecipesFromImage", 3, 60),
    ("RecipeAddMultipleRecipesFromMarkor", 3, 60),
    ("RecipeAddMultipleRecipesFromMarkor2", 3, 60),
    ("RecipeAddSingleRecipe", 1, 24),
    ("RecipeDeleteDuplicateRecipes", 1, 10),
    ("RecipeDeleteDuplicateRecipes2", 2, 24),
    ("RecipeDeleteDuplicateRecipes3", 2, 34),
    ("RecipeDeleteMultipleRecipes", 1, 24),
    ("RecipeDeleteMultipleRecipesWithConstraint", 3, 40),
    ("RecipeDeleteMultipleRecipesWithNoise", 2, 34),
    ("RecipeDeleteSingleRecipe", 1, 10),
    ("RecipeDeleteSingleWithRecipeWithNoise", 1, 20),
    ("RetroCreatePlaylist", 2, 24),
    ("RetroPlayingQueue", 1, 32),
    ("RetroPlaylistDuration", 2, 30),
    ("RetroSavePlaylist", 3, 50),
    ("SaveCopyOfReceiptTaskEval", 3, 16),
    ("SimpleCalendarAddOneEvent", 3, 34),
    ("SimpleCalendarAddOneEventInTwoWeeks", 2, 34),
    ("SimpleCalendarAddOneEventRelativeDay", 1, 34),
    ("SimpleCalendarAddOneEventTomorrow", 1, 34),
    ("SimpleCalendarAddRepeatingEvent", 1, 34),
    ("SimpleCalendarAnyEventsOnDate", 1, 10),
    ("SimpleCalendarDeleteEvents", 1, 14),
    ("SimpleCalendarDeleteEventsOnRelativeDay", 2, 12),
    ("SimpleCalendarDeleteOneEvent", 1, 12),
    ("SimpleCalendarEventOnDateAtTime", 2, 10),
    ("SimpleCalendarEventsInNextWeek", 1, 10),
    ("SimpleCalendarEventsInTimeRange", 1, 10),
    ("SimpleCalendarEventsOnDate", 2, 10),
    ("SimpleCalendarFirstEventAfterStartTime", 1, 10),
    ("SimpleCalendarLocationOfEvent", 1, 10),
    ("SimpleCalendarNextEvent", 1, 10),
    ("SimpleCalendarNextMeetingWithPerson", 2, 10),
    ("SimpleDrawProCreateDrawing", 1, 18),
    ("SimpleSmsReply", 1, 12),
    ("SimpleSmsReplyMostRecent", 2, 12),
    ("SimpleSmsResend", 2, 12),
    ("SimpleSmsSend", 2, 12),
    ("SimpleSmsSendClipboardContent", 1, 12),
    ("SimpleSmsSendReceivedAddress", 2, 18),
    ("SportsTrackerActivitiesCountForWeek", 1, 10),
    ("SportsTrackerActivitiesOnDate", 3, 20),
    ("SportsTrackerActivityDuration", 1, 10),
    ("SportsTrackerLongestDistanceActivity", 1, 10),
    ("SportsTrackerTotalDistanceForCategoryOverInterval", 3, 20),
    ("SportsTrackerTotalDurationForCategoryThisWeek", 3, 10),
    ("SystemBluetoothTurnOff", 1, 10),
    ("SystemBluetoothTurnOffVerify", 1, 10),
    ("SystemBluetoothTurnOn", 1, 10),
    ("SystemBluetoothTurnOnVerify", 1, 10),
    ("SystemBrightnessMax", 1, 10),
    ("SystemBrightnessMaxVerify", 1, 10),
    ("SystemBrightnessMin", 1, 10),
    ("SystemBrightnessMinVerify", 1, 10),
    ("SystemCopyToClipboard", 1, 10),
    ("SystemWifiTurnOff", 1, 10),
    ("SystemWifiTurnOffVerify", 1, 10),
    ("SystemWifiTurnOn", 1, 10),
    ("SystemWifiTurnOnVerify", 1, 10),
    ("TasksCompletedTasksForDate", 2, 10),
    ("TasksDueNextWeek", 2, 10),
    ("TasksDueOnDate", 1, 10),
    ("TasksHighPriorityTasks", 2, 10),
    ("TasksHighPriorityTasksDueOnDate", 2, 10),
    ("TasksIncompleteTasksOnDate", 1, 10),
    ("TurnOffWifiAndTurnOnBluetooth", 2, 20),
    ("TurnOnWifiAndOpenApp", 1, 20),
    ("VlcCreatePlaylist", 2, 28),
    ("VlcCreateTwoPlaylists", 2, 48),
];

/// The suite's facts about `task_type`, when it is one of the `android_world` tasks.
pub fn known_task(task_type: &str) -> Option<KnownTask> {
    KNOWN
        .binary_search_by(|(n, _, _)| n.cmp(&task_type))
        .ok()
        .map(|i| {
            let (name, difficulty, step_budget) = KNOWN[i];
            KnownTask {
                name,
                difficulty,
                step_budget,
            }
        })
}

/// How many tasks the built-in table knows.
pub fn known_task_count() -> usize {
    KNOWN.len()
}

/// The step budget of `task_type`: `override_steps` when configured, else the suite's
/// int(10 × complexity) when the task is known, else `default_steps`.
pub fn step_budget(task_type: &str, override_steps: Option<u32>, default_steps: u32) -> u32 {
    override_steps
        .or_else(|| known_task(task_type).map(|k| k.step_budget))
        .unwrap_or(default_steps)
        .max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_bad_ids_say_the_scheme() {
        let id = TaskId::parse("ContactsAddContact#0").unwrap();
        assert_eq!(id, TaskId::new("ContactsAddContact", 0));
        assert_eq!(id.to_string(), "ContactsAddContact#0");
        assert_eq!(TaskId::parse("SystemWifiTurnOn#12").unwrap().task_idx, 12);
        for bad in [
            "ContactsAddContact",
            "#0",
            "A#",
            "A#-1",
            "A#x",
            "A b#0",
            "A#99999999999",
        ] {
            let e = TaskId::parse(bad).unwrap_err();
            assert!(
                matches!(&e, AwError::UnknownTask(m) if m.contains("TaskType#index") && m.starts_with(bad)),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn the_table_is_sorted_and_has_the_whole_suite() {
        assert_eq!(known_task_count(), 116);
        assert!(KNOWN.windows(2).all(|w| w[0].0 < w[1].0));
        let levels = |d| KNOWN.iter().filter(|t| t.1 == d).count();
        assert_eq!((levels(1), levels(2), levels(3)), (61, 36, 19));
    }

    #[test]
    fn budgets_follow_the_complexity_then_the_config() {
        // complexity 1.2 -> 12 steps; 1 -> 10; 7.8 -> 78
        assert_eq!(step_budget("ContactsAddContact", None, 20), 12);
        assert_eq!(step_budget("SystemWifiTurnOn", None, 20), 10);
        assert_eq!(step_budget("MarkorMergeNotes", None, 20), 78);
        assert_eq!(known_task("MarkorMergeNotes").unwrap().difficulty, 3);
        assert_eq!(step_budget("MyCustomTask", None, 20), 20);
        assert_eq!(step_budget("ContactsAddContact", Some(5), 20), 5);
        assert_eq!(step_budget("X", None, 0), 1);
        assert!(known_task("NoSuchTask").is_none());
    }
}
