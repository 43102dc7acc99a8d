"""`aml server` turns pydantic's plugin scan off (10-90 ms of its start-up) unless the user set
PYDANTIC_DISABLE_PLUGINS, and the scripts it starts get the environment without that setting."""
from __future__ import annotations

import subprocess
import sys

import pytest

from azuremlcore.server import _pydantic_plugins
from conftest_server import free_port

_PROBE = """
import os, socket, sys, threading, time
from azuremlcore.server import ServerConfig, serve

def probe():
    while True:
        try:
            socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=1).close()
            break
        except OSError:
            time.sleep(0.02)
    from pydantic.plugin import _loader
    from azuremlcore.server import _pydantic_plugins
    print(repr(os.environ.get("PYDANTIC_DISABLE_PLUGINS")), _loader._plugins is None,
          repr(_pydantic_plugins.for_child(dict(os.environ)).get("PYDANTIC_DISABLE_PLUGINS")), flush=True)
    os._exit(0)

threading.Thread(target=probe, daemon=True).start()
serve(ServerConfig(data_dir=sys.argv[1], api_on_first_use=True), port=int(sys.argv[2]))
"""


@pytest.mark.parametrize("users, expected", [(None, ["'__all__'", "True", "None"]),
                                             ("", ["''", "False", "''"]),
                                             ("logfire", ["'logfire'", "False", "'logfire'"])])
def test_the_server_scans_for_plugins_only_when_the_user_asks(tmp_path, monkeypatch, users, expected):
    monkeypatch.delenv(_pydantic_plugins.ENV, raising=False)
    if users is not None:
        monkeypatch.setenv(_pydantic_plugins.ENV, users)
    out = subprocess.run([sys.executable, "-c", _PROBE, str(tmp_path / "server"), str(free_port())],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.stdout.split() == expected, out.stderr
