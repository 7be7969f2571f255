"""Helpers for steprl plugins written in Python (componentize-py).

- `guarded`: put it on every method whose WIT signature returns a result (`init`,
  `check`, `plan`, and an episode's `start`, `reset`, `step`, `final-state`). An
  uncaught exception then becomes the typed error `internal` carrying its traceback,
  so the host reports it as one failed call; without it the exception traps, and the
  host drops the whole instance (every episode running in it is lost).
- State: componentize-py makes a fresh object of your exported class (`Env`, `Check`,
  `Resample`) for every call, so attributes set on `self` in `init` are gone by the next
  call. Keep what `init` reads in module globals (the `CONFIG` dict in app.py). Resource
  objects (an environment's episodes) are different: each is one Python object for the
  whole episode, so keep an episode's state on `self` there.
- Resources: an exported resource's class must live in a top-level module named after
  its interface (`env.py` for `steprl:plugin/env`'s `episode`), not in app.py.
"""

import functools
import json
import traceback

from componentize_py_types import Err
from wit_world.imports import types


def guarded(fn):
    """An uncaught exception in `fn` becomes `Err(internal(traceback))` instead of a trap."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Err:
            raise
        except Exception:
            raise Err(types.PluginError_Internal(traceback.format_exc(limit=6)))

    return wrapper


def config_object(config_json: str, keys: dict) -> dict:
    """The plugin's config as a dict: `keys` maps each accepted key to its default; an
    unknown key or a config that is not a JSON object is an `invalid-config` error."""
    try:
        config = json.loads(config_json or "{}")
    except ValueError as e:
        raise Err(types.PluginError_InvalidConfig(f"config is not JSON: {e}"))
    if not isinstance(config, dict):
        raise Err(types.PluginError_InvalidConfig("config must be a JSON object"))
    for key in config:
        if key not in keys:
            accepted = ", ".join(keys) or "none"
            raise Err(types.PluginError_InvalidConfig(f"unknown key `{key}` (accepted: {accepted})"))
    return {**keys, **config}
