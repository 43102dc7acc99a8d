"""The SDK's HTTP session: a read sent as POST is retried when the server drops the connection (a restart)."""
from __future__ import annotations

import json
import socket
import threading
from typing import Iterator

import pytest

from azuremlcore._client.http import HttpClient, ServerUnavailableError
from conftest_server import free_port


class _Token:
    def get_authentication_header(self) -> dict[str, str]:
        return {"Authorization": "Bearer t"}


@pytest.fixture
def drops_first() -> Iterator[tuple[str, list[bytes]]]:
    """A server on a free port that reads the first request and closes without answering (killed mid-request),
    then answers every later one with a JSON body; yields its URL and the request lines it got."""
    port = free_port()
    listener = socket.create_server(("127.0.0.1", port))
    seen: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                length = int(next((line.split(b":")[1] for line in head.split(b"\r\n")
                                   if line.lower().startswith(b"content-length:")), b"0"))
                while len(body) < length:
                    body += conn.recv(65536)
                seen.append(head.split(b"\r\n")[0])
                if len(seen) == 1:
                    continue  # closed with no answer
                answer = json.dumps({"points": [], "echo": json.loads(body)}).encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(answer), answer))

    threading.Thread(target=serve, daemon=True).start()
    yield f"http://127.0.0.1:{port}", seen
    listener.close()


def test_a_read_sent_as_post_is_retried_after_a_dropped_connection(drops_first) -> None:
    url, seen = drops_first
    out = HttpClient(url, _Token()).json("POST", "/metrics/query", json_body={"run_ids": ["r"]}, read=True)
    assert out == {"points": [], "echo": {"run_ids": ["r"]}}
    assert seen == [b"POST /metrics/query HTTP/1.1"] * 2


def test_a_write_sent_as_post_is_not_repeated_by_the_session(drops_first) -> None:
    # A POST that appends must not be sent twice behind its caller's back: the caller decides (the spool does).
    url, seen = drops_first
    with pytest.raises(ServerUnavailableError, match="Cannot reach the workspace server"):
        HttpClient(url, _Token()).json("POST", "/metrics", json_body={"rows": []})
    assert seen == [b"POST /metrics HTTP/1.1"]


def test_inside_a_job_a_longer_outage_is_waited_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """A submitted run's calls retry for about 50 s (its job can do nothing else), others for about 6 s."""
    monkeypatch.delenv("AZUREML_RUN_ID", raising=False)
    outside = HttpClient("http://127.0.0.1:1", _Token()).session.get_adapter("http://x").max_retries
    monkeypatch.setenv("AZUREML_RUN_ID", "job_1")
    inside = HttpClient("http://127.0.0.1:1", _Token()).session.get_adapter("http://x").max_retries
    assert (outside.connect, inside.connect) == (5, 8)
    waits = [inside.backoff_factor * 2 ** n for n in range(1, inside.connect)]
    assert 40 < sum(waits) < 60  # urllib3 sleeps 0.4, 0.8, ... 25.6 s between attempts


def test_wait_for_completion_waits_through_a_server_outage(monkeypatch: pytest.MonkeyPatch) -> None:
    """The server unreachable for a while says nothing about the run: wait_for_completion keeps polling."""
    from azuremlcore.run import Run

    answers = iter([ServerUnavailableError("down"), ServerUnavailableError("down"), "Completed"])

    def status(self: Run) -> str:
        a = next(answers)
        if isinstance(a, Exception):
            raise a
        return a

    monkeypatch.setattr(Run, "get_status", status)
    monkeypatch.setattr(Run, "get_details", lambda self: {"status": "Completed"})
    assert Run.wait_for_completion(object.__new__(Run)) == {"status": "Completed"}

    answers = iter([ServerUnavailableError("down")] * 100)
    monkeypatch.setattr("azuremlcore.run.WAIT_UNREACHABLE_S", 0.5)
    with pytest.raises(ServerUnavailableError):
        Run.wait_for_completion(object.__new__(Run))
