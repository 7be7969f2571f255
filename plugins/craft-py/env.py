"""craft-py's episodes: one `world.World` per episode, on the episode object."""

import json

from componentize_py_types import Err
from wit_world.exports import env as wit_env
from wit_world.imports import types

import world
from steprl_guest import guarded


class Episode(wit_env.Episode):
    def __init__(self, task_id: str, seed: int, parts: types.ObservationParts):
        self.task_id, self.seed, self.parts = task_id, seed, parts
        self.world = world.World(task_id, seed)
        self.budget = world.max_steps(task_id)
        self.steps = 0

    @classmethod
    @guarded
    def start(cls, task_id: str, seed: int, parts: types.ObservationParts) -> "Episode":
        if task_id not in world.TASK:
            raise Err(types.PluginError_UnknownTask(task_id))
        return cls(task_id, seed, parts)

    @guarded
    def reset(self) -> types.Observation:
        self.world = world.World(self.task_id, self.seed)
        self.steps = 0
        return self.observe()

    @guarded
    def step(self, action: types.Action) -> types.StepResult:
        if self.world.said_done or self.steps >= self.budget:
            raise Err(types.PluginError_EpisodeFinished())
        if not isinstance(action, types.Action_Discrete) or action.value >= len(world.ACTIONS):
            raise Err(types.PluginError_InvalidAction(f"{action!r} (valid: discrete 0..{len(world.ACTIONS) - 1})"))
        try:
            self.world.act(action.value)
        except ValueError as e:
            raise Err(types.PluginError_InvalidAction(str(e)))
        self.steps += 1
        return types.StepResult(
            observation=self.observe(),
            reward=0.0,
            done=self.world.said_done,
            # The task's step budget ends the episode.
            truncated=not self.world.said_done and self.steps >= self.budget,
            info_json="",
        )

    @guarded
    def final_state(self) -> str:
        return json.dumps(self.world.final_state())

    def observe(self) -> types.Observation:
        w = self.world
        return types.Observation(
            text=w.text() if types.ObservationParts.TEXT in self.parts else None,
            tokens=w.tokens() if types.ObservationParts.TOKENS in self.parts else None,
            features=None,
            image=None,
            action_mask=w.mask(),
        )
