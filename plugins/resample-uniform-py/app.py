"""uniform-py: a uniform resampler plugin written in Python (componentize-py).

Each round takes `tasks-per-round` tasks from a shuffled pass over the task set (a new
permutation every epoch, seeded by the run seed and the epoch) and gives each
`copies-per-task` rollouts: the uniform (T-GRPO) sampling baseline, with the same
pass structure as the STEP resampler but no replacement. It also proves the plugin
contract is language-neutral.
"""

import json
import random

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import log, types


class Resample(exports.Resample):
    def init(self, config_json: str) -> None:
        try:
            config = json.loads(config_json)
        except ValueError as e:
            raise Err(types.PluginError_InvalidConfig(f"config is not JSON: {e}"))
        if not isinstance(config, dict):
            raise Err(types.PluginError_InvalidConfig("config must be a JSON object"))
        if config:
            key = sorted(config)[0]
            raise Err(types.PluginError_InvalidConfig(
                f"unknown key `{key}`: uniform-py takes no configuration"))
        log.log(log.Level.DEBUG, "uniform-py ready")

    def plan(self, round: int, stats: list[types.TaskStat], request: types.PlanRequest) -> list[str]:
        ids = sorted(s.id for s in stats)
        if not ids:
            raise Err(types.PluginError_InvalidInput("no tasks to plan over"))
        b, n = request.tasks_per_round, request.copies_per_task
        perms: dict[int, list[int]] = {}
        out: list[str] = []
        for pos in range(round * b, round * b + b):
            epoch, index = divmod(pos, len(ids))
            if epoch not in perms:
                perm = list(range(len(ids)))
                random.Random(request.seed * 1_000_003 + epoch).shuffle(perm)
                perms[epoch] = perm
            out.extend([ids[perms[epoch][index]]] * n)
        return out
