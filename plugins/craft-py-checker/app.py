"""craft-py-checker: craft-py's reward checker, in Python (componentize-py). A success
is the task's target reached (the place visited, or the item in the inventory) and
`done` said; reaching it without saying done scores 0.5. The rule is world.judge
(plugins/craft-py/world.py), built into this component beside this file.
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import types

import world
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
            success, score, reason = world.judge(state)
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise Err(types.PluginError_InvalidInput(f"not a craft-py final state ({e})"))
        return types.Verdict(success=success, score=score, reason=reason, step_rewards=None)
