"""Running submitted configs on this machine (private): submit, the detached runner, cancel, node slots.

`submit.submit_config` creates the run and starts `python -m azuremlcore._execution.runner` in a new
session, so the run outlives the notebook kernel; `control.cancel_run` stops it.
"""
