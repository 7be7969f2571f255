// __NAME__: a steprl resampler in JavaScript (componentize-js).
//
// Plans each round's rollouts from the success record: here, a round-robin over the
// tasks, `copiesPerTask` rollouts each. A plan must be a pure function of its inputs
// (round, stats, request): use `request.seed` and `round` for randomness. CHANGE `plan`.
//
// Build: sh build.sh        Check: steprl plugin check __NAME__.wasm

export const resample = {
  init(configJson) {
    const c = JSON.parse(configJson || "{}");
    for (const key of Object.keys(c || {})) {
      throw { tag: "invalid-config", val: `unknown key \`${key}\` (__NAME__ takes no configuration)` };
    }
  },

  plan(round, stats, request) {
    const ids = stats.map((s) => s.id).sort();
    if (ids.length === 0) {
      throw { tag: "invalid-input", val: "no tasks to plan over" };
    }
    const b = request.tasksPerRound;
    const n = request.copiesPerTask;
    const out = [];
    for (let i = 0; i < Math.min(b, ids.length); i++) {
      const id = ids[(round * b + i) % ids.length];
      for (let k = 0; k < n; k++) out.push(id);
    }
    return out;
  },
};
