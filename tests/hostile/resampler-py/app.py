"""hostile-py: a hostile resampler plugin in Python (componentize-py) for the boundary
tests in host/cli/tests/hostile.rs. Its config's `mode` picks one misbehaviour:
`well-behaved` (one copy of each task, in order), `huge-plan` (100,000 rollouts),
`unknown-task`, `empty`, `raise` (an uncaught Python exception), `spin` (never returns).

The mode is kept in a module global: componentize-py makes a fresh `Resample` object for
every call, so state set on `self` in `init` would be gone by `plan`.
"""

import json

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import types

MODES = ["well-behaved", "huge-plan", "unknown-task", "empty", "raise", "spin"]
MODE = ["well-behaved"]


class Resample(exports.Resample):
    def init(self, config_json: str) -> None:
        try:
            config = json.loads(config_json)
        except ValueError as e:
            raise Err(types.PluginError_InvalidConfig(f"config is not JSON: {e}"))
        mode = config.get("mode", "well-behaved") if isinstance(config, dict) else None
        if mode not in MODES:
            raise Err(types.PluginError_InvalidConfig(f"mode `{mode}`: one of {', '.join(MODES)}"))
        MODE[0] = mode

    def plan(self, round: int, stats: list[types.TaskStat], request: types.PlanRequest) -> list[str]:
        mode = MODE[0]
        ids = sorted(s.id for s in stats)
        if mode == "huge-plan":
            return [ids[0]] * 100_000
        if mode == "unknown-task":
            return ["no-such-task"]
        if mode == "empty":
            return []
        if mode == "raise":
            raise RuntimeError("hostile-py raises in plan")
        if mode == "spin":
            while True:
                pass
        out: list[str] = []
        for i in range(request.tasks_per_round):
            out.extend([ids[i % len(ids)]] * request.copies_per_task)
        return out
