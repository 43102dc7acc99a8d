"""The names the start-of-process hook (`azuremlcore._startup`) answers to: its variables and its `.pth` line.

Kept apart from the hook itself so that whoever switches the hook on (the runner, the environment
builder, `aml alias`) does not import what the hook runs. Runs inside jobs on Python 3.8: plain
constants only.
"""
from __future__ import annotations

# Set (to "1") to make the `azureml` names the SDK implements resolve to azuremlcore (never shadowing a real one).
ALIAS_ENV = "AZUREMLCORE_AZUREML_ALIAS"
# Set by the runner for a job's main script process only; the hook removes it so that children do not inherit it.
JOB_MAIN_ENV = "_AZUREMLCORE_JOB_MAIN"
PTH_LINE = "import azuremlcore._startup as _s; _s.run_hooks()\n"
