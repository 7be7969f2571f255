"""__NAME__: a steprl reward checker in Python (componentize-py).

Judges a finished episode from the final state its environment returned (a JSON
document); this one expects `{"value", "target", "said_done"}`, as the environment
template writes it. CHANGE it to read your environment's final state.

Build: sh build.sh        Check: steprl plugin check __NAME__.wasm [--with ENV.wasm]
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import types

from steprl_guest import config_object, guarded

CONFIG = {}


class Check(exports.Check):
    @guarded
    def init(self, config_json: str) -> None:
        CONFIG.update(config_object(config_json, {}))

    @guarded
    def check(self, task: types.TaskInfo, trajectory: types.TrajectorySummary, final_state_json: str) -> types.Verdict:
        try:
            state = json.loads(final_state_json)
            value, target, said_done = state["value"], state["target"], state["said_done"]
        except (ValueError, KeyError, TypeError) as e:
            # The host asks "can you judge this task?" with a probe final state; a
            # checker that cannot read it answers as for any state it cannot read.
            raise Err(types.PluginError_InvalidInput(f"final state {final_state_json[:80]!r}: {e}"))
        success = said_done and value == target
        # A success must score above 0; every score is a number in [0, 1].
        score = 1.0 if success else max(0.0, 1.0 - abs(target - value) / max(target, 1)) * 0.5
        reason = "reached the target and said done" if success else f"value {value}, target {target}, done: {said_done}"
        return types.Verdict(success=success, score=score, reason=reason, step_rewards=None)
