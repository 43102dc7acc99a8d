"""pydantic's plugins off in a server process unless the user chose otherwise, and not passed on to its jobs.

The first pydantic model a process builds makes pydantic look for plugins in every installed
distribution's entry points: 10-90 ms of the server's start-up before `/health` (measured; it grows
with the size of the environment), for plugins (tracing, logging of validations) a server rarely has.
`PYDANTIC_DISABLE_PLUGINS` set by the user (set it empty to let every plugin see the server's models)
is left alone. Scripts the server starts get the environment without what the server set here.
"""
from __future__ import annotations

import os

ENV = "PYDANTIC_DISABLE_PLUGINS"
_set_here = False


def switch_off() -> None:
    """Turn pydantic's plugins off for this process (before its first model is built), unless the user set ENV."""
    global _set_here
    if ENV not in os.environ:
        os.environ[ENV] = "__all__"  # pydantic reads it at each model build
        _set_here = True


def for_child(env: dict[str, str]) -> dict[str, str]:
    """A child process's environment without the setting switch_off made (a user's own setting stays)."""
    if _set_here and env.get(ENV) == "__all__":
        del env[ENV]
    return env
