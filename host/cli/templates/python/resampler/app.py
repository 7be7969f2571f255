"""__NAME__: a steprl resampler in Python (componentize-py).

Plans each round's rollouts from the success record: here, a round-robin over the
tasks, `copies-per-task` rollouts each. A plan must be a pure function of its inputs
(round, stats, request): use `request.seed` and `round` for randomness. CHANGE `plan`.

Build: sh build.sh        Check: steprl plugin check __NAME__.wasm
"""

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import types

from steprl_guest import config_object, guarded

CONFIG = {}


class Resample(exports.Resample):
    @guarded
    def init(self, config_json: str) -> None:
        CONFIG.update(config_object(config_json, {}))

    @guarded
    def plan(self, round: int, stats: list[types.TaskStat], request: types.PlanRequest) -> list[str]:
        ids = sorted(s.id for s in stats)
        if not ids:
            raise Err(types.PluginError_InvalidInput("no tasks to plan over"))
        b, n = request.tasks_per_round, request.copies_per_task
        out: list[str] = []
        for i in range(min(b, len(ids))):
            out.extend([ids[(round * b + i) % len(ids)]] * n)
        return out
