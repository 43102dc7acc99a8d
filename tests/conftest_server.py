"""Test helpers for the workspace server: a real uvicorn server on a free port, in a thread."""
from __future__ import annotations

import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_health(session: Any, base: str, proc: Any, timeout: float = 60) -> None:
    """Poll `base`/health with a requests session until it answers ok; fails if `proc` (the server) exits first."""
    import requests

    deadline = time.monotonic() + timeout
    while True:
        try:
            assert session.get(base + "/health", timeout=5).json() == {"status": "ok"}
            return
        except requests.ConnectionError:
            assert proc.poll() is None and time.monotonic() < deadline, "aml server did not start"
            time.sleep(0.02)


class LiveServer:
    """`aml server` in this process: uvicorn on 127.0.0.1:<free port>, stopped by stop()."""

    def __init__(self, data_dir: Path, db_url: str | None = None, tls: tuple[str, str] | None = None,
                 **config: Any) -> None:
        import uvicorn

        from azuremlcore.server import ServerConfig, create_app

        self.config = ServerConfig(data_dir=data_dir, db_url=db_url, **config)
        self.app = create_app(self.config)
        self.state = self.app.state
        self.port = free_port()
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.port}"
        ssl = {"ssl_certfile": tls[0], "ssl_keyfile": tls[1]} if tls else {}
        self._server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning",
                                                     lifespan="on", access_log=False,
                                                     timeout_graceful_shutdown=1, **ssl))
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)

    def token(self, user: str = "admin", role: str | None = "Owner", scope: str = "/") -> str:
        """A user token; with role, the user holds it at scope."""
        token = self.state.identity.create_user_token(user)
        if role:
            self.state.identity.grant(f"user:{user}", scope, role)
        return token

    def stop(self) -> None:
        """Stop serving and close the database."""
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self.state.close()


def self_signed_cert(folder: Path) -> tuple[str, str]:
    """A certificate and key for 127.0.0.1 (the certificate is also the CA bundle to trust)."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


@pytest.fixture
def live_server(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A server on SQLite in the test's tmp folder."""
    server = LiveServer(tmp_path / "server")
    yield server
    server.stop()
