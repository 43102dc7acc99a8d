"""Running submitted jobs (private): submit, the executors, the detached runner, cancel, node slots.

`submit.submit` creates the run and hands it to the executor of its compute target
(`executors.executor_for`): on this machine a runner process in a new session
(`python -m azuremlcore._execution.runner`), so the run outlives the notebook kernel; for a server
workspace the server's own runner. `executor.cancel` stops it.
"""
