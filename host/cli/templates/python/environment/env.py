"""The episodes of __NAME__: one Python object per episode, its state on `self`."""

import json

from componentize_py_types import Err
from wit_world.exports import env as wit_env
from wit_world.imports import types

import suite
from steprl_guest import guarded


class Episode(wit_env.Episode):
    def __init__(self, target: int, parts: types.ObservationParts):
        self.target = target
        self.parts = parts
        self.value = 0
        self.steps = 0
        self.said_done = False

    @classmethod
    @guarded
    def start(cls, task_id: str, seed: int, parts: types.ObservationParts) -> "Episode":
        if task_id not in suite.TASKS:
            raise Err(types.PluginError_UnknownTask(task_id))
        # CHANGE: draw the task's random parameters from `seed` (same seed, same episode).
        return cls(suite.TASKS[task_id], parts)

    @guarded
    def reset(self) -> types.Observation:
        self.value, self.steps, self.said_done = 0, 0, False
        return self.observe()

    @guarded
    def step(self, action: types.Action) -> types.StepResult:
        if self.said_done:
            raise Err(types.PluginError_EpisodeFinished())
        if not isinstance(action, types.Action_Discrete) or action.value >= len(suite.ACTIONS):
            raise Err(types.PluginError_InvalidAction(f"{action!r} (valid: discrete 0..{len(suite.ACTIONS) - 1})"))
        label = suite.ACTIONS[action.value]
        if label == "done":
            self.said_done = True
        else:
            self.value += int(label.split()[1])
        self.steps += 1
        return types.StepResult(
            observation=self.observe(),
            reward=0.0,
            done=self.said_done,
            truncated=False,
            info_json="{}",
        )

    @guarded
    def final_state(self) -> str:
        # What the checker judges: keep it small and self-contained.
        return json.dumps({"value": self.value, "target": self.target, "said_done": self.said_done})

    def observe(self) -> types.Observation:
        text = tokens = None
        if types.ObservationParts.TEXT in self.parts:
            labels = ", ".join(suite.ACTIONS)
            text = f"Value {self.value}, target {self.target}. Actions: {labels}."
        if types.ObservationParts.TOKENS in self.parts:
            tokens = [1 + min(self.value, suite.VOCAB - 2), 1 + min(self.target, suite.VOCAB - 2)]
        return types.Observation(text=text, tokens=tokens, features=None, image=None, action_mask=None)
