// __NAME__: a steprl reward checker in JavaScript (componentize-js).
//
// Judges a finished episode from the final state its environment returned (a JSON
// document); this one expects {"value", "target", "said_done"}, as the environment
// template writes it. CHANGE it to read your environment's final state.
// State across calls: module-level variables persist (a config read by `init`, say).
// Errors: `throw {tag: "invalid-input", val: "..."}` returns a typed plugin-error; any
// other exception fails the call (the host then starts a fresh instance).
//
// Build: sh build.sh        Check: steprl plugin check __NAME__.wasm [--with ENV.wasm]

let config = {};

export const check = {
  init(configJson) {
    let c;
    try {
      c = JSON.parse(configJson || "{}");
    } catch (e) {
      throw { tag: "invalid-config", val: `config is not JSON: ${e}` };
    }
    if (c === null || typeof c !== "object" || Array.isArray(c)) {
      throw { tag: "invalid-config", val: "config must be a JSON object" };
    }
    for (const key of Object.keys(c)) {
      throw { tag: "invalid-config", val: `unknown key \`${key}\` (__NAME__ takes no configuration)` };
    }
    config = c;
  },

  check(task, trajectory, finalStateJson) {
    let s;
    try {
      s = JSON.parse(finalStateJson);
    } catch (e) {
      throw { tag: "invalid-input", val: `final state: ${e}` };
    }
    if (!s || typeof s.value !== "number" || typeof s.target !== "number" || typeof s.said_done !== "boolean") {
      // The host's supports probe lands here too: answering like this means "can judge".
      throw { tag: "invalid-input", val: 'final state: expected {"value", "target", "said_done"}' };
    }
    const success = s.said_done && s.value === s.target;
    const closeness = 1 - Math.min(1, Math.abs(s.target - s.value) / Math.max(1, s.target));
    // A success must score above 0; every score is a number in [0, 1].
    return {
      success,
      score: success ? 1 : 0.5 * closeness,
      reason: success ? "reached the target and said done" : `value ${s.value}, target ${s.target}, done: ${s.said_done}`,
      stepRewards: undefined,
    };
  },
};
