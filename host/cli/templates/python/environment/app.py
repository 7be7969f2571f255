"""__NAME__: a steprl environment plugin in Python (componentize-py).

A minimal but real suite to change into yours: each task asks to add up to a target
(1 or 2 at a time) and then say done. Observations carry text (for language-model
policies) and two token ids (for the token networks); actions are three labelled
discrete actions. The episode class is in env.py (componentize-py wants an exported
resource in a module named after its interface).

Build: sh build.sh        Check: steprl plugin check __NAME__.wasm
"""

from wit_world import exports
from wit_world.imports import types

import suite
from steprl_guest import config_object, guarded

# Instance state lives in module globals: a fresh `Env` object serves every call.
CONFIG = {}


class Env(exports.Env):
    @guarded
    def init(self, config_json: str) -> None:
        # CHANGE: your config keys and their defaults.
        CONFIG.update(config_object(config_json, {}))

    def tasks(self) -> list[types.TaskInfo]:
        # CHANGE: your tasks. `max_steps` bounds an episode; `difficulty` is optional.
        return [
            types.TaskInfo(
                id=task_id,
                suite="__NAME__",
                instruction=f"Add up to exactly {target}, then say done.",
                max_steps=target + 2,
                difficulty=1 if target < 4 else 2,
                metadata_json="{}",
            )
            for task_id, target in suite.TASKS.items()
        ]

    def observation_space(self) -> types.ObservationSpec:
        # Token ids must stay below vocab_size; id 0 is the host's padding.
        return types.ObservationSpec(
            text=True,
            vocab_size=suite.VOCAB,
            vocab=[],
            max_tokens=2,
            feature_dim=None,
            image=None,
        )

    def action_space(self) -> types.ActionSpec:
        return types.ActionSpec(
            discrete=len(suite.ACTIONS), discrete_labels=list(suite.ACTIONS), text=False
        )
