// sheet-js: a spreadsheet suite written in JavaScript (componentize-js) — move a cursor
// over a 4 × 4 grid of digits, type, clear, copy and paste. 20 tasks over 3 levels whose
// known solutions take 2 to about 36 steps; which cells and digits a task uses is drawn per
// seed. Text observations show the grid and name every allowed action by its label;
// token observations encode the task, cursor, clipboard and cells. The world is plain
// JavaScript in sheet.js; checker.js judges episodes. Config: none.
import { ACTIONS, MAX_TOKENS, Sheet, TASKS, TASK_IDS, VOCAB, generic, maxSteps } from "./sheet.js";

class Episode {
  static start(taskId, seed, parts) {
    if (!TASK_IDS.includes(taskId)) {
      throw { tag: "unknown-task", val: taskId };
    }
    return new Episode(taskId, seed, parts);
  }

  constructor(taskId, seed, parts) {
    this.taskId = taskId;
    this.seed = seed;
    this.parts = parts;
    this.budget = maxSteps(taskId);
    this.reset();
  }

  reset() {
    this.sheet = new Sheet(this.taskId, this.seed);
    this.steps = 0;
    return this.observe();
  }

  step(action) {
    if (this.sheet.saidDone || this.steps >= this.budget) {
      throw { tag: "episode-finished" };
    }
    if (action.tag !== "discrete" || action.val >= ACTIONS.length) {
      throw { tag: "invalid-action", val: `${JSON.stringify(action)} (valid: discrete 0..${ACTIONS.length - 1})` };
    }
    this.sheet.apply(action.val);
    this.steps += 1;
    const done = this.sheet.saidDone;
    return {
      observation: this.observe(),
      reward: 0,
      done,
      // The task's step budget ends the episode.
      truncated: !done && this.steps >= this.budget,
      infoJson: "",
    };
  }

  finalState() {
    return JSON.stringify(this.sheet.finalState());
  }

  observe() {
    return {
      text: this.parts.text ? this.sheet.text() : undefined,
      tokens: this.parts.tokens ? new Uint32Array(this.sheet.tokens()) : undefined,
      features: undefined,
      image: undefined,
      actionMask: this.sheet.mask(),
    };
  }
}

export const env = {
  init(configJson) {
    const c = JSON.parse(configJson || "{}");
    for (const key of Object.keys(c || {})) {
      throw { tag: "invalid-config", val: `unknown key \`${key}\` (sheet-js takes no configuration)` };
    }
  },

  tasks() {
    return TASKS.map(([id, level]) => ({
      id,
      suite: "sheet-js",
      instruction: generic(id),
      maxSteps: maxSteps(id),
      difficulty: level,
      metadataJson: "{}",
    }));
  },

  observationSpace() {
    return { text: true, vocabSize: VOCAB, vocab: [], maxTokens: MAX_TOKENS, featureDim: undefined, image: undefined };
  },

  actionSpace() {
    return { discrete: ACTIONS.length, discreteLabels: ACTIONS, text: false };
  },

  Episode,
};
