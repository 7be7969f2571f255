"""resample-dapo-py: a DAPO-style filtering resampler written in Python (componentize-py).

DAPO's dynamic sampling drops groups whose rollouts all succeeded or all failed: they
carry no group-relative signal. A resampler sees only the success record, not the last
group, so this one filters on the smoothed rate: a seen task whose rate is at or above
`high` (0.95) or at or below `low` (0.05) is skipped, and its slot refilled from the
others, in a shuffled pass (a new permutation per epoch, seeded by the run seed and the
epoch). Unseen tasks are never skipped. When fewer than `tasks-per-round` tasks pass the
filter, the skipped ones fill the rest (closest to the middle first), so the round keeps
its size. Each chosen task gets `copies-per-task` rollouts.

State lives in module globals: componentize-py makes a fresh `Resample` object for every
call, so attributes set on `self` in `init` would be gone by `plan`.
"""

import json
import random

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import log, types

KEYS = ("low", "high")
SETTINGS = {"low": 0.05, "high": 0.95}


def bad(message: str) -> Err:
    return Err(types.PluginError_InvalidConfig(message))


class Resample(exports.Resample):
    def init(self, config_json: str) -> None:
        try:
            config = json.loads(config_json)
        except ValueError as e:
            raise bad(f"config is not JSON: {e}")
        if not isinstance(config, dict):
            raise bad("config must be a JSON object")
        for key, value in config.items():
            if key not in KEYS:
                raise bad(f"unknown key `{key}` (resample-dapo-py accepts {', '.join(KEYS)})")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise bad(f"{key} = {value!r} must be a number in [0, 1]")
        settings = {**SETTINGS, **config}
        if settings["low"] >= settings["high"]:
            raise bad(f"low = {settings['low']} must be below high = {settings['high']}")
        SETTINGS.update(settings)
        log.log(log.Level.DEBUG, f"resample-dapo-py: skipping tasks at or below {settings['low']} or at or above {settings['high']}")

    def plan(self, round: int, stats: list[types.TaskStat], request: types.PlanRequest) -> list[str]:
        if not stats:
            raise Err(types.PluginError_InvalidInput("no tasks to plan over"))
        low, high = SETTINGS["low"], SETTINGS["high"]
        rate = {s.id: s.smoothed_rate for s in stats}

        def saturated(task: str) -> bool:
            r = rate[task]
            return r is not None and (r <= low or r >= high)

        ids = sorted(rate)
        keep = [t for t in ids if not saturated(t)]
        b, n = request.tasks_per_round, request.copies_per_task
        chosen = pass_of(keep, round, min(b, len(keep)), request.seed)
        if len(chosen) < b:
            # Too few tasks carry signal: the saturated ones fill the round, those
            # nearest the middle first.
            rest = sorted((t for t in ids if saturated(t)), key=lambda t: (abs(rate[t] - 0.5), t))
            chosen += rest[: b - len(chosen)]
        out: list[str] = []
        for task in chosen:
            out.extend([task] * n)
        return out


def pass_of(ids: list[str], round: int, b: int, seed: int) -> list[str]:
    """Round `round`'s `b` tasks of a shuffled pass over `ids`."""
    if not ids or b == 0:
        return []
    perms: dict[int, list[int]] = {}
    out: list[str] = []
    for pos in range(round * b, round * b + b):
        epoch, index = divmod(pos, len(ids))
        if epoch not in perms:
            perm = list(range(len(ids)))
            random.Random(seed * 1_000_003 + epoch).shuffle(perm)
            perms[epoch] = perm
        out.append(ids[perms[epoch][index]])
    return out
