// sheet-js-checker: sheet-js's reward checker, in JavaScript (componentize-js). It
// rebuilds the grid the task should leave from the task id and seed in the final state
// (sheet.js's judge) and succeeds when the sheet matches it cell for cell (and the
// cursor, for a goto) and `done` was said; matching without `done` scores 0.5.
import { judge } from "./sheet.js";

export const check = {
  init(configJson) {
    const c = JSON.parse(configJson || "{}");
    for (const key of Object.keys(c || {})) {
      throw { tag: "invalid-config", val: `unknown key \`${key}\` (sheet-js-checker takes no configuration)` };
    }
  },

  check(task, trajectory, finalStateJson) {
    let state;
    try {
      state = JSON.parse(finalStateJson);
      const [success, score, reason] = judge(state);
      return { success, score, reason, stepRewards: undefined };
    } catch (e) {
      throw { tag: "invalid-input", val: `not a sheet-js final state (${e})` };
    }
  },
};
