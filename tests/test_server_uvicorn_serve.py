"""`aml server` runs uvicorn's Server without loading `uvicorn.main` (click, multiprocessing, the supervisors),
and other code in the process still finds the whole uvicorn package."""
from __future__ import annotations

import socket
import subprocess
import sys

CHECK = """
import sys
from azuremlcore.server import _uvicorn_serve
_uvicorn_serve._package_without_body()
import uvicorn
from uvicorn.config import Config
from uvicorn.server import Server
assert uvicorn.Config is Config and uvicorn.Server is Server and uvicorn.__version__
held = sorted(m for m in sys.modules if m.split('.')[0] in ('click', 'multiprocessing') or m == 'uvicorn.main')
assert not held, held
from uvicorn import run  # loads uvicorn.main at first use, as `import uvicorn` would have
import uvicorn.main
assert run is uvicorn.main.run and uvicorn.main is sys.modules['uvicorn.main'] and 'click' in sys.modules
try:
    uvicorn.nothing_like_this
except AttributeError as exc:
    assert 'nothing_like_this' in str(exc)
else:
    raise AssertionError('no AttributeError')
print('ok')
"""


def test_uvicorn_without_its_command_line_and_the_rest_at_first_use():
    out = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_aml_server_on_a_port_in_use_exits_with_uvicorns_startup_failure(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run([sys.executable, "-m", "azuremlcore._cli.main", "server", "--data-dir",
                               str(tmp_path / "data"), "--port", str(port)], cwd=tmp_path, capture_output=True,
                              text=True, timeout=120)
    assert proc.returncode == 3, proc.stderr
    assert "address already in use" in proc.stderr.lower(), proc.stderr
