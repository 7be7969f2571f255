// hostile-js: a hostile reward-checker plugin in JavaScript (componentize-js) for the
// boundary tests in host/cli/tests/hostile.rs. Success when hostile-env's walk said
// `done` at its goal; its config's `mode` picks one misbehaviour: `well-behaved`,
// `nan-score`, `throw` (an uncaught JavaScript exception), `spin` (never returns).

const MODES = ["well-behaved", "nan-score", "throw", "spin"];
let mode = "well-behaved";

export const check = {
  init(configJson) {
    let config;
    try {
      config = JSON.parse(configJson);
    } catch (e) {
      throw { tag: "invalid-config", val: `config is not JSON: ${e}` };
    }
    const m = (config && config.mode) || "well-behaved";
    if (!MODES.includes(m)) {
      throw { tag: "invalid-config", val: `mode \`${m}\`: one of ${MODES.join(", ")}` };
    }
    mode = m;
  },

  check(task, trajectory, finalStateJson) {
    const s = JSON.parse(finalStateJson);
    const success = s.done === true && s.pos === s.goal;
    if (mode === "throw") {
      throw new TypeError("hostile-js throws in check");
    }
    if (mode === "spin") {
      for (;;) {}
    }
    return {
      success,
      score: mode === "nan-score" ? NaN : success ? 1 : 0,
      reason: "",
      stepRewards: undefined,
    };
  },
};
