"""``grade --scheduler ADDRESS`` when no Dask scheduler is at that address.

The coordinator asks the address for its identity (Dask's own comm layer, under one
hard deadline) before it opens a ``Client``: a closed port, a server that accepts and
never answers, one that answers HTTP or arbitrary bytes, or a Dask server that is not a
scheduler must each give a one-line ``ConnectionError``, never a hang or a traceback;
a real ``dask scheduler`` must pass and give a working client.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from autograder.tools import workers as W

pytestmark = pytest.mark.grading
SHORT = 3.0  # the probe's deadline in the tests that need not wait the real one


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def tcp_server(answer: bytes | None):
    """A TCP server on 127.0.0.1 that accepts, reads what comes, and sends ``answer``
    once (then keeps the connection open); ``None``: never sends anything."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.1)
    stop = threading.Event()
    held: list[socket.socket] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            held.append(conn)
            if answer is not None:
                with contextlib.suppress(OSError):
                    conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(10)
        for conn in held:
            conn.close()
        listener.close()


@contextlib.contextmanager
def http_server():
    """``python -m http.server`` in a thread, on 127.0.0.1."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@contextlib.contextmanager
def dask_server():
    """A Dask ``Server`` that speaks the comm protocol but is not a scheduler."""
    from distributed.core import Server

    ready: dict = {}
    done = threading.Event()

    async def main() -> None:
        server = Server({})
        await server.listen("tcp://127.0.0.1:0")
        ready["address"] = server.address
        while not done.is_set():
            await asyncio.sleep(0.05)
        await server.close()

    thread = threading.Thread(target=asyncio.run, args=(main(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while "address" not in ready:
        assert thread.is_alive(), "the server did not start"
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield ready["address"]
    finally:
        done.set()
        thread.join(30)


def expect_connection_error(call, address: str, within: float) -> str:
    """``call()`` raises ConnectionError naming ``address`` in one line, in time."""
    start = time.monotonic()
    with pytest.raises(ConnectionError) as info:
        call()
    took = time.monotonic() - start
    message = str(info.value)
    assert took < within, f"{took:.1f} s: {message}"
    assert address in message, message
    assert "\n" not in message, message
    assert "dask scheduler" in message, message  # the hint to start one
    return message


def client_of(address: str) -> None:
    with W.dask_client(scheduler=address):
        raise AssertionError(f"a client of {address}")


@pytest.fixture
def short_deadline(monkeypatch):
    monkeypatch.setattr(W, "SCHEDULER_PROBE_TIMEOUT", SHORT)


# (a) nothing listens

@pytest.mark.slow
@pytest.mark.timeout(60)
def test_closed_port_gives_a_connection_error_within_the_deadline():
    address = f"tcp://127.0.0.1:{free_port()}"
    message = expect_connection_error(lambda: client_of(address), address,
                                      W.SCHEDULER_PROBE_TIMEOUT + 5)
    assert message.startswith(f"no Dask scheduler answers at {address}"), message


@pytest.mark.timeout(60)
def test_probe_of_a_closed_port(short_deadline):
    address = f"tcp://127.0.0.1:{free_port()}"
    message = expect_connection_error(lambda: W.probe_scheduler(address), address, SHORT + 5)
    assert message.startswith(f"no Dask scheduler answers at {address}"), message


# (b) something accepts and never answers

@pytest.mark.slow
@pytest.mark.timeout(60)
def test_silent_server_gives_a_connection_error_not_a_hang():
    with tcp_server(None) as address:
        message = expect_connection_error(lambda: client_of(address), address,
                                          W.SCHEDULER_PROBE_TIMEOUT + 5)
    assert "not as a Dask scheduler" in message, message
    assert "no reply" in message, message


@pytest.mark.timeout(60)
def test_probe_of_a_silent_server(short_deadline):
    with tcp_server(None) as address:
        message = expect_connection_error(lambda: W.probe_scheduler(address), address,
                                          SHORT + 5)
    assert "not as a Dask scheduler" in message, message


# (c) something answers, but not as Dask

@pytest.mark.timeout(60)
def test_http_server_gives_a_connection_error(short_deadline):
    with http_server() as address:
        message = expect_connection_error(lambda: client_of(address), address, SHORT + 5)
    assert "not as a Dask scheduler" in message, message


@pytest.mark.timeout(60)
@pytest.mark.parametrize("answer", [
    b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n",  # 8 bytes read as a frame length
    b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
    b"\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xff" * 4,
], ids=["ssh-banner", "http-reply", "short-frames"])
def test_server_answering_bytes_gives_a_connection_error(short_deadline, answer):
    with tcp_server(answer) as address:
        expect_connection_error(lambda: client_of(address), address, SHORT + 5)


@pytest.mark.timeout(60)
def test_dask_server_that_is_not_a_scheduler(short_deadline):
    with dask_server() as address:
        message = expect_connection_error(lambda: W.probe_scheduler(address), address,
                                          SHORT + 5)
    assert "not as a Dask scheduler (it is a Dask Server)" in message, message


def test_an_address_dask_cannot_use():
    message = expect_connection_error(lambda: W.probe_scheduler("nosuch://somewhere:1"),
                                      "nosuch://somewhere:1", 5)
    assert "nosuch" in message, message


# (d) a real scheduler

@pytest.fixture
def scheduler(tmp_path):
    dask = os.path.join(os.path.dirname(sys.executable), "dask")
    if not os.path.exists(dask):
        pytest.skip("the dask command is not installed")
    sched_file = tmp_path / "scheduler.json"
    with open(tmp_path / "scheduler.log", "w") as log:
        proc = subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port",
                                 str(free_port()), "--no-dashboard", "--scheduler-file",
                                 str(sched_file)], stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not sched_file.exists():
            assert proc.poll() is None, (tmp_path / "scheduler.log").read_text()
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.2)
        time.sleep(0.2)  # the file is written whole, but be sure
        yield json.loads(sched_file.read_text())["address"]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_real_scheduler_passes_the_probe_and_gives_a_client(scheduler):
    identity = W.probe_scheduler(scheduler)
    assert identity["type"] == "Scheduler"
    assert identity["address"] == scheduler
    with W.dask_client(scheduler=scheduler) as client:
        assert client.status == "running"
        assert client.scheduler_info()["address"] == scheduler
