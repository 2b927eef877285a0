"""The app as the network sees it: it listens on this machine only, and refuses pages of other hosts.

Streamlit 1.67 has no option for HTTP headers such as Content-Security-Policy or X-Frame-Options (README,
"Sharing the app on a network"); what its configuration does allow is tested here on the real server,
started as `make run` starts it, with the project's .streamlit/config.toml.
"""
from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    # no --server.address: the project's config decides where it listens
    command = [sys.executable, "-m", "streamlit", "run", str(ROOT / "ui" / "app.py"), "--server.port", str(port),
               "--server.fileWatcherType", "none"]
    with log.open("w") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                   env=dict(os.environ, STREAMLIT_BROWSER_GATHER_USAGE_STATS="false"))
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"streamlit did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=20)


def _listening(port: int) -> set[str]:
    """Local addresses with a socket listening on `port` (from /proc/net/tcp and tcp6)."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            local, state = row.split()[1], row.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                found.add(address if len(address) == width else "?")
    return found


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc/net")
def test_the_app_listens_on_the_loopback_interface_only(server):
    addresses = _listening(server)
    loopback = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1, ::1 as /proc writes them
    assert addresses and addresses <= loopback, f"listening on {addresses}"


def _upgrade(port: int, host: str, origin: str | None = None) -> str:
    key = base64.b64encode(os.urandom(16)).decode()
    lines = ["GET /_stcore/stream HTTP/1.1", f"Host: {host}", "Upgrade: websocket", "Connection: Upgrade",
             f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13", "Sec-WebSocket-Protocol: streamlit"]
    if origin:
        lines.append(f"Origin: {origin}")
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        return sock.recv(4096).decode("latin-1").split("\r\n", 1)[0]


def test_the_session_socket_is_refused_to_pages_of_other_hosts_and_origins(server):
    assert " 101 " in _upgrade(server, f"localhost:{server}")
    assert " 101 " not in _upgrade(server, f"rebound.example:{server}")  # DNS rebinding
    assert " 101 " not in _upgrade(server, f"localhost:{server}", origin="http://attacker.example")


def test_no_wildcard_cross_origin_access(server):
    with socket.create_connection(("127.0.0.1", server), timeout=10) as sock:
        sock.sendall(f"GET /_stcore/health HTTP/1.1\r\nHost: localhost:{server}\r\n"
                     "Origin: http://attacker.example\r\nConnection: close\r\n\r\n".encode())
        response = b""
        while chunk := sock.recv(4096):
            response += chunk
    head = response.decode("latin-1").split("\r\n\r\n", 1)[0].lower()
    assert head.startswith("http/1.1 200")
    assert "access-control-allow-origin: *" not in head
