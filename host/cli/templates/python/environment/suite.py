"""The suite's data, shared by app.py (the task list) and env.py (the episodes)."""

# CHANGE: your tasks (id -> target), vocabulary size and action labels.
TASKS = {"reach-3": 3, "reach-5": 5}
VOCAB = 16
ACTIONS = ("add 1", "add 2", "done")
