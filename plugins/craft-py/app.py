"""craft-py: a crafting suite written in Python (componentize-py) — gather raw materials
where they lie (drawn per seed), carry them to the workshop, craft. 20 tasks over three
levels whose known solutions take 2 to 16 steps; text observations name every allowed
action by its label (for language-model policies), token observations encode the task,
place, inventory and what lies here (for the token networks). The world is plain Python
in world.py; the episodes are in env.py; plugins/craft-py-checker judges them.

Config: none. Known solutions: `python3 world.py demos [SEEDS]`.
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import types

import world
from steprl_guest import config_object, guarded

CONFIG = {}


class Env(exports.Env):
    @guarded
    def init(self, config_json: str) -> None:
        CONFIG.update(config_object(config_json, {}))

    def tasks(self) -> list[types.TaskInfo]:
        return [
            types.TaskInfo(
                id=task_id,
                suite="craft-py",
                instruction=world.instruction(kind, target),
                max_steps=world.max_steps(task_id),
                difficulty=level,
                metadata_json=json.dumps({"kind": kind, "target": target}),
            )
            for task_id, kind, target, level in world.TASKS
        ]

    def observation_space(self) -> types.ObservationSpec:
        return types.ObservationSpec(
            text=True,
            vocab_size=world.VOCAB,
            vocab=[],
            max_tokens=world.MAX_TOKENS,
            feature_dim=None,
            image=None,
        )

    def action_space(self) -> types.ActionSpec:
        return types.ActionSpec(
            discrete=len(world.ACTIONS), discrete_labels=list(world.ACTIONS), text=False
        )
