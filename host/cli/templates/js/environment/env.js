// __NAME__: a steprl environment plugin in JavaScript (componentize-js).
//
// A minimal but real suite to change into yours: each task asks to add up to a target
// (1 or 2 at a time) and then say done. Observations carry text (for language-model
// policies) and two token ids (for the token networks); actions are three labelled
// discrete actions. Episodes are the `Episode` resource class: one object per episode,
// its state on `this`.
//
// Build: sh build.sh        Check: steprl plugin check __NAME__.wasm

// CHANGE: your tasks (id -> target), vocabulary size and action labels.
const TASKS = { "reach-3": 3, "reach-5": 5 };
const VOCAB = 16;
const ACTIONS = ["add 1", "add 2", "done"];

class Episode {
  static start(taskId, seed, parts) {
    if (!(taskId in TASKS)) {
      throw { tag: "unknown-task", val: taskId };
    }
    // CHANGE: draw the task's random parameters from `seed` (same seed, same episode).
    return new Episode(TASKS[taskId], parts);
  }

  constructor(target, parts) {
    this.target = target;
    this.parts = parts;
    this.value = 0;
    this.saidDone = false;
  }

  reset() {
    this.value = 0;
    this.saidDone = false;
    return this.observe();
  }

  step(action) {
    if (this.saidDone) {
      throw { tag: "episode-finished" };
    }
    if (action.tag !== "discrete" || action.val >= ACTIONS.length) {
      throw { tag: "invalid-action", val: `${JSON.stringify(action)} (valid: discrete 0..${ACTIONS.length - 1})` };
    }
    const label = ACTIONS[action.val];
    if (label === "done") {
      this.saidDone = true;
    } else {
      this.value += Number(label.split(" ")[1]);
    }
    return { observation: this.observe(), reward: 0, done: this.saidDone, truncated: false, infoJson: "" };
  }

  finalState() {
    // What the checker judges: keep it small and self-contained.
    return JSON.stringify({ value: this.value, target: this.target, said_done: this.saidDone });
  }

  observe() {
    return {
      text: this.parts.text ? `Value ${this.value}, target ${this.target}. Actions: ${ACTIONS.join(", ")}.` : undefined,
      // Token ids stay below the vocabulary size; id 0 is the host's padding.
      tokens: this.parts.tokens
        ? new Uint32Array([1 + Math.min(this.value, VOCAB - 2), 1 + Math.min(this.target, VOCAB - 2)])
        : undefined,
      features: undefined,
      image: undefined,
      actionMask: undefined,
    };
  }
}

export const env = {
  init(configJson) {
    const c = JSON.parse(configJson || "{}");
    for (const key of Object.keys(c || {})) {
      throw { tag: "invalid-config", val: `unknown key \`${key}\` (__NAME__ takes no configuration)` };
    }
  },

  tasks() {
    return Object.entries(TASKS).map(([id, target]) => ({
      id,
      suite: "__NAME__",
      instruction: `Add up to exactly ${target}, then say done.`,
      maxSteps: target + 2,
      difficulty: target < 4 ? 1 : 2,
      metadataJson: "{}",
    }));
  },

  observationSpace() {
    return { text: true, vocabSize: VOCAB, vocab: [], maxTokens: 2, featureDim: undefined, image: undefined };
  },

  actionSpace() {
    return { discrete: ACTIONS.length, discreteLabels: ACTIONS, text: false };
  },

  Episode,
};
