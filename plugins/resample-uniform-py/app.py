"""uniform-py: a uniform resampler plugin written in Python (componentize-py).

Each round draws `tasks-per-round` distinct tasks uniformly at random (with the
round's seed) and gives each `copies-per-task` rollouts. It proves the plugin
contract is language-neutral, and serves as the uniform (T-GRPO) sampling baseline.
"""

import json
import random

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import types
from wit_world.imports import log


class Resample(exports.Resample):
    def init(self, config_json: str) -> None:
        try:
            config = json.loads(config_json)
        except ValueError as e:
            raise Err(types.PluginError_InvalidConfig(f"config is not JSON: {e}"))
        if not isinstance(config, dict):
            raise Err(types.PluginError_InvalidConfig("config must be a JSON object"))
        unknown = sorted(set(config) - {"replacement"})
        if unknown:
            raise Err(types.PluginError_InvalidConfig(
                f"unknown key `{unknown[0]}` (uniform-py accepts only `replacement`, a boolean)"))
        replacement = config.get("replacement", False)
        if not isinstance(replacement, bool):
            raise Err(types.PluginError_InvalidConfig("replacement: expected true or false"))
        self.replacement = replacement
        log.log(log.Level.DEBUG, f"uniform-py ready (replacement={replacement})")

    def plan(self, round: int, stats: list[types.TaskStat], request: types.PlanRequest) -> list[str]:
        ids = [s.id for s in stats]
        if not ids:
            raise Err(types.PluginError_InvalidInput("no tasks to plan over"))
        rng = random.Random(request.seed)
        b = request.tasks_per_round
        if getattr(self, "replacement", False) or b > len(ids):
            chosen = [rng.choice(ids) for _ in range(b)]
        else:
            chosen = rng.sample(ids, b)
        return [task for task in chosen for _ in range(request.copies_per_task)]
