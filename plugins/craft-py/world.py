"""craft-py's world, as plain Python (no WIT types): places, raw materials, recipes,
tasks, one episode's state, the judge, and an oracle solver. The plugin (app.py, env.py)
and the checker (plugins/craft-py-checker) wrap it; `python3 world.py demos` prints
known solutions as demonstration lines.

A crafting world: gather raw materials where they lie (which place holds which is drawn
per seed), carry them to the workshop and craft. 20 tasks over 3 levels: visit a place
(2 steps), fetch a raw material (3), craft a simple item (5-7), craft a compound item
(9-15).
"""

import functools
import json
import random
import sys

PLACES = ["forest", "river", "mine", "field", "cave", "meadow", "workshop"]
RAW = ["wood", "stone", "water", "iron", "wheat", "clay", "fiber"]
# Recipe -> ingredients (item -> count). Crafting happens at the workshop.
RECIPES = {
    "plank": {"wood": 1},
    "rope": {"fiber": 1},
    "bread": {"wheat": 1, "water": 1},
    "brick": {"clay": 1, "water": 1},
    "axe": {"iron": 1, "plank": 1},
    "raft": {"plank": 2, "rope": 1},
    "house": {"brick": 2, "plank": 2},
}
ITEMS = RAW + list(RECIPES)
ACTIONS = (
    [f"go to {p}" for p in PLACES]
    + [f"take {r}" for r in RAW]
    + [f"craft {c}" for c in RECIPES]
    + ["done"]
)
# (task id, kind, target, level)
TASKS = (
    [(f"visit.{p}", "visit", p, 1) for p in PLACES if p != "workshop"]
    + [(f"fetch.{r}", "fetch", r, 1) for r in RAW]
    + [(f"craft.{c}", "craft", c, 2) for c in ["plank", "rope", "bread", "brick"]]
    + [(f"craft.{c}", "craft", c, 3) for c in ["axe", "raft", "house"]]
)
TASK = {t[0]: t for t in TASKS}
VOCAB = 128
MAX_TOKENS = 2 + len(ITEMS) + len(RAW)


def instruction(kind, target):
    if kind == "visit":
        return f"Go to the {target}, then say done."
    if kind == "fetch":
        return f"Bring back one {target}: find where it lies, take it, then say done."
    return f"Craft one {target} at the workshop, then say done."


def layout(seed):
    """Which place holds each raw material, drawn from the seed (never the workshop)."""
    rng = random.Random(seed * 7919 + 17)
    wild = [p for p in PLACES if p != "workshop"]
    spots = wild + [rng.choice(wild)]
    rng.shuffle(spots)
    return dict(zip(RAW, spots))


def needs(item, count=1):
    """The raw materials (item -> count) that `count` of `item` take."""
    if item in RAW:
        return {item: count}
    out = {}
    for part, n in RECIPES[item].items():
        for raw, k in needs(part, n * count).items():
            out[raw] = out.get(raw, 0) + k
    return out


def craft_order(item, count=1):
    """The crafts (in an order that works) that make `count` of `item`."""
    if item in RAW:
        return []
    out = []
    for part, n in RECIPES[item].items():
        out += craft_order(part, n * count)
    return out + [item] * count


class World:
    """One episode's state."""

    def __init__(self, task_id, seed):
        self.task_id = task_id
        _, self.kind, self.target, self.level = TASK[task_id]
        self.where = layout(seed)
        self.location = "camp"
        self.inventory = {}
        self.said_done = False

    def here(self):
        return [r for r in RAW if self.where[r] == self.location]

    def valid(self, label):
        verb, _, obj = label.partition(" ")
        if label == "done":
            return True
        if verb == "go":
            return obj[3:] != self.location
        if verb == "take":
            return self.where[obj] == self.location
        if verb == "craft":
            return self.location == "workshop" and all(
                self.inventory.get(i, 0) >= n for i, n in RECIPES[obj].items()
            )
        return False

    def mask(self):
        return [self.valid(a) for a in ACTIONS]

    def act(self, index):
        """Apply action `index`; an action the mask forbids is an error (ValueError)."""
        label = ACTIONS[index]
        if not self.valid(label):
            raise ValueError(f"`{label}` cannot be done here (at the {self.location})")
        verb, _, obj = label.partition(" ")
        if label == "done":
            self.said_done = True
        elif verb == "go":
            self.location = obj[3:]
        elif verb == "take":
            self.inventory[obj] = self.inventory.get(obj, 0) + 1
        else:
            for i, n in RECIPES[obj].items():
                self.inventory[i] -= n
                if self.inventory[i] == 0:
                    del self.inventory[i]
            self.inventory[obj] = self.inventory.get(obj, 0) + 1

    def text(self):
        here = ", ".join(self.here()) or "nothing to take"
        inv = ", ".join(f"{n} {i}" for i, n in sorted(self.inventory.items())) or "empty"
        allowed = ", ".join(a for a in ACTIONS if self.valid(a))
        return (
            f"Task: {instruction(self.kind, self.target)}\n"
            f"You are at the {self.location}. Here: {here}.\n"
            f"Inventory: {inv}.\n"
            f"Actions: {allowed}."
        )

    def tokens(self):
        task = 100 + [t[0] for t in TASKS].index(self.task_id)
        loc = 1 + (PLACES.index(self.location) if self.location in PLACES else len(PLACES))
        inv = [10 + 4 * i + min(self.inventory.get(item, 0), 3) for i, item in enumerate(ITEMS)]
        here = [70 + 2 * i + (self.where[r] == self.location) for i, r in enumerate(RAW)]
        return [task, loc] + inv + here

    def final_state(self):
        return {
            "task": self.task_id,
            "kind": self.kind,
            "target": self.target,
            "location": self.location,
            "inventory": dict(sorted(self.inventory.items())),
            "said_done": self.said_done,
        }


def judge(state):
    """(success, score, reason) of a final state."""
    kind, target = state["kind"], state["target"]
    if kind == "visit":
        reached = state["location"] == target
        what = f"at the {state['location']}"
    else:
        reached = state["inventory"].get(target, 0) >= 1
        what = f"{state['inventory'].get(target, 0)} {target} in the inventory"
    if reached and state["said_done"]:
        return True, 1.0, f"{what}, and said done"
    if reached:
        return False, 0.5, f"{what}, but did not say done"
    return False, 0.0, what


def solve(task_id, seed):
    """A shortest known solution, as action labels."""
    w = World(task_id, seed)
    if w.kind == "visit":
        return [f"go to {w.target}", "done"]
    plan = []
    # Gather, place by place in a fixed order, then craft at the workshop.
    raw = needs(w.target)
    for place in PLACES:
        takes = [r for r in RAW if r in raw and w.where[r] == place]
        if takes:
            plan.append(f"go to {place}")
            for r in takes:
                plan += [f"take {r}"] * raw[r]
    if w.kind == "craft":
        plan.append("go to workshop")
        plan += [f"craft {c}" for c in craft_order(w.target)]
    return plan + ["done"]


@functools.lru_cache(maxsize=None)
def max_steps(task_id):
    """The step budget: twice the longest known solution, plus 2 (computed once per task)."""
    return 2 * max(len(solve(task_id, s)) for s in range(8)) + 2


if __name__ == "__main__" and sys.argv[1:2] == ["demos"]:
    seeds = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    for task_id, *_ in TASKS:
        for seed in range(seeds):
            print(json.dumps({"task": task_id, "seed": seed, "actions": solve(task_id, seed)}))
