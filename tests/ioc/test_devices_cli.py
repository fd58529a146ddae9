"""``ioc devices`` with answers and arguments it cannot use: one line naming the URL or
the option, exit code 1 or 2, never a traceback (each case was one)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ioc.cli import main


@pytest.fixture
def api() -> Iterator[tuple[str, list[bytes]]]:
    """A local server that answers each GET with the next body of the list given."""
    bodies: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = bodies.pop(0)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", bodies
    server.shutdown()
    server.server_close()


ROW = ('{"site": "hue", "device": "kimlong-01", "health": "ok", "last_seen": %s,'
       ' "disk_used_bytes": %s}')


@pytest.mark.parametrize(("body", "why"), [
    (b"[]", "TypeError"),
    (b"{}", "KeyError: 'items'"),
    (b'{"items": null}', "TypeError"),
    (b'{"items": [{"site": "hue", "device": "d"}]}', "KeyError: 'health'"),
    (('{"items": [%s]}' % (ROW % ('"2025-11-03T08:00:00"', "1"))).encode(),
     "last_seen '2025-11-03T08:00:00' has no time zone"),
    (('{"items": [%s]}' % (ROW % ('"2025-11-03T08:00:00+07:00"', '"lots"'))).encode(),
     "disk_used_bytes 'lots' of 'kimlong-01' is not a number"),
    (b"<html>", "Expecting value"),
])
def test_an_answer_that_is_not_a_device_page_is_named(
        api: tuple[str, list[bytes]], body: bytes, why: str,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    url, bodies = api
    bodies.append(body)
    monkeypatch.setenv("IOC_TOKEN", "t" * 32)
    assert main(["devices", "--api", url]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"ioc devices: {url}/api/v1/devices: "), err
    assert why in err, err
    assert err.count("\n") == 1


def test_a_folder_without_a_registry_is_named(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """It printed '0 gateways' and exit code 0."""
    assert main(["devices", "--registry", str(tmp_path), "--port", "1"]) == 1
    assert (f"--registry {tmp_path}: no registry.yaml there"
            in capsys.readouterr().err)


@pytest.mark.parametrize(("option", "value"), [("--wait", "-1"), ("--interval", "-1"),
                                               ("--stale-after", "nan")])
def test_seconds_are_zero_or_more(option: str, value: str,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["devices", option, value])
    assert info.value.code == 2
    assert f"argument {option}: {value} is not a number of seconds" in capsys.readouterr().err
