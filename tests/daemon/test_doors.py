"""The daemon's doors, attacked: hostile bodies, heads and payloads are refused with one line of JSON, never a 500.

An in-process daemon (real DuckDB state, the Slack signing secret, the sandbox behind its syncs) serves both its
real socket and, for the property test, Starlette's in-process client over the same app. The 200 MB chunked body
goes to a daemon process over a real socket, with its resident memory read from /proc before and after.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import socket
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors import REGISTRY
from connectors.sandbox import Sandbox
from syncer.config.loader import load_project
from syncer.contract.jsonbound import JsonTooDeepError, loads_bounded, nesting_depth
from syncer.daemon.bodies import DEFAULT_MAX_BODY_BYTES
from syncer.daemon.control import DaemonControl
from syncer.daemon.server import build_app
from syncer.daemon.service import Daemon
from tests.daemon.procs import (
    ENVIRONMENT,
    SIGNING_SECRET,
    TOKEN,
    daemon_process,
    free_port,
    project_yaml,
    slack_mapping,
    write_project,
)

CAP = DEFAULT_MAX_BODY_BYTES
MAX_ANSWER_BYTES = 64 * 1024  # the largest answer any door gives (/metrics for a handful of syncs is ~10 KiB)
OPENAPI = yaml.safe_load((Path(__file__).parents[2] / "docs" / "daemon-openapi.yaml").read_text())


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's request signature over the raw bytes (``v0=`` HMAC-SHA256 of ``v0:{timestamp}:{body}``), computed
    here rather than by the code under test, so a body that is not UTF-8 can be signed as Slack would."""
    digest = hmac.new(secret.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return f"v0={digest}"


def documented(method: str, path: str) -> set[int] | None:
    """The statuses docs/daemon-openapi.yaml lists for ``method`` on ``path`` (HEAD as GET); None when the document
    has no such operation (the answer is then a 404, 405 or a redirect)."""
    bare = path.split("?", 1)[0]
    for template, operations in OPENAPI["paths"].items():
        if re.fullmatch(re.sub(r"\{[^/]+\}", "[^/]+", template), bare):
            operation = operations.get("get" if method == "HEAD" else method.lower())
            return {int(status) for status in operation["responses"]} if operation else None
    return None


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, sandbox_session: Sandbox) -> Iterator[Daemon]:
    sandbox_session.reset()
    root = write_project(
        tmp_path_factory.mktemp("doors") / "project",
        project_yaml(sandbox_session, "duckdb:///.syncer/state.duckdb", free_port()),
        {"a": slack_mapping("a", "every 1h")},
        accounts=5,
    )
    running = Daemon(root, ENVIRONMENT, load_project(root, REGISTRY, ENVIRONMENT))
    running.start()
    yield running
    running.stop()


class Client:
    """The daemon's app in process (httpx's ASGITransport, on an event loop of its own): any exception escaping
    the app fails the test (``raise_app_exceptions``); a body given as chunks is streamed without Content-Length."""

    def __init__(self, control: DaemonControl) -> None:
        self.loop = asyncio.new_event_loop()
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(build_app(control)), base_url="http://daemon")

    def request(
        self,
        method: str,
        path: str,
        content: bytes | Iterable[bytes] = b"",
        headers: dict[str, str] | list[tuple[bytes, bytes]] | None = None,
    ) -> httpx.Response:
        async def stream(parts: Iterable[bytes]) -> AsyncIterator[bytes]:
            for part in parts:
                yield part

        body = content if isinstance(content, bytes) else stream(content)
        return self.loop.run_until_complete(self.http.request(method, path, content=body, headers=headers))

    def get(self, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return self.request("GET", path, headers=headers)

    def post(
        self, path: str, content: bytes | Iterable[bytes] = b"", headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return self.request("POST", path, content, headers)

    def close(self) -> None:
        self.loop.run_until_complete(self.http.aclose())
        self.loop.close()


@pytest.fixture(scope="module")
def client(daemon: Daemon) -> Iterator[Client]:
    served = Client(DaemonControl(daemon))
    yield served
    served.close()


def signed(body: bytes, at: float | None = None) -> dict[str, str]:
    stamp = str(int(at if at is not None else time.time()))
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature(SIGNING_SECRET, stamp, body),
        "Content-Type": "application/x-www-form-urlencoded",
    }


def one_line_refusal(reply: httpx.Response) -> dict[str, Any]:
    assert "\n" not in reply.text, reply.text
    answer = json.loads(reply.text)
    assert answer["ok"] is False and isinstance(answer["error"], str), answer
    return dict(answer)


def chunks(total: int, size: int = 64 * 1024) -> Iterator[bytes]:
    """``total`` bytes, ``size`` at a time: a body sent chunked, never held whole by the test."""
    block = b"x" * size
    sent = 0
    while sent < total:
        yield block[: min(size, total - sent)]
        sent += size


def test_bounded_json_counts_nesting_outside_strings_and_refuses_deep_documents() -> None:
    assert nesting_depth('{"a": [1, {"b": "[[[[{{"}], "c": "\\"]]"}') == 3
    assert loads_bounded(b'{"a": [1, 2]}') == {"a": [1, 2]}
    deep = "[" * 5000 + "]" * 5000
    with pytest.raises(JsonTooDeepError, match="5000 levels deep"):
        loads_bounded(deep)
    with pytest.raises(ValueError):  # still a ValueError, as every malformed JSON
        loads_bounded("[" * 5000)
    assert loads_bounded("[" * 64 + "]" * 64) is not None
    with pytest.raises(ValueError):
        loads_bounded(b"\xff\xfe")


def test_each_door_refuses_hostile_input_on_one_line(client: Client, caplog: pytest.LogCaptureFixture) -> None:
    slack = "/slack/interactions"
    # A chunked body (no Content-Length) is cut at the cap as it streams in.
    over = client.post(slack, content=chunks(CAP + 1), headers=signed(b""))
    assert over.status_code == 413 and one_line_refusal(over)["error"] == f"body over {CAP} bytes"
    # A declared length over the cap is refused before a byte is read; a length that is not a number is a 400.
    declared = client.post(slack, content=b"x", headers={"Content-Length": str(10**30)})
    assert declared.status_code == 413
    assert client.post(slack, content=b"x", headers={"Content-Length": "1" * 5000}).status_code == 413
    assert client.post(slack, content=b"x", headers={"Content-Length": "12abc"}).status_code == 400
    # Too many headers, or a head too large.
    many = client.get("/healthz", headers={f"x-h{i}": "v" for i in range(100)})
    assert many.status_code == 431 and "headers" in one_line_refusal(many)["error"]
    assert client.get("/healthz", headers={"x-big": "v" * 20_000}).status_code == 431
    # A signed payload nesting 5,000 deep (the finding: a 500 and an ASGI traceback) is a 400.
    body = b"payload=" + b"%5B" * 5000
    with caplog.at_level(logging.DEBUG):
        deep = client.post(slack, content=body, headers=signed(body))
    assert deep.status_code == 400 and "JSON" in one_line_refusal(deep)["error"]
    assert "Traceback" not in caplog.text and "RecursionError" not in caplog.text
    # Starlette's own refusals answer as the daemon's do.
    assert one_line_refusal(client.get("/nowhere"))["error"] == "Not Found"
    assert client.get("/syncs/a/trigger").status_code == 405
    # A route within the cap still works.
    assert client.get("/healthz").status_code == 200


def test_the_body_cap_is_read_from_the_daemon_section(tmp_path: Path, sandbox: Sandbox) -> None:
    port = free_port()
    root = write_project(
        tmp_path / "project",
        project_yaml(sandbox, "duckdb:///.syncer/state.duckdb", port, "max_body_bytes: 2048\n"),
        {"a": slack_mapping("a", "every 1h")},
        accounts=5,
    )
    running = Daemon(root, ENVIRONMENT, load_project(root, REGISTRY, ENVIRONMENT))
    running.start()
    try:
        url = f"http://127.0.0.1:{port}/slack/interactions"
        over = httpx.post(url, content=chunks(3000, 1000), timeout=10)
        assert over.status_code == 413 and one_line_refusal(over)["error"] == "body over 2048 bytes"
        assert httpx.post(url, content=b"x" * 2000, timeout=10).status_code == 401  # within the cap: unsigned
    finally:
        running.stop()


class FaultyControl(DaemonControl):
    """The daemon's control with a fault in its metrics: what a bug in a handler looks like from outside."""

    def metrics(self) -> bytes:
        raise RuntimeError("a fault of the daemon")


def test_a_fault_of_the_daemon_answers_503_and_logs_one_line(daemon: Daemon, caplog: pytest.LogCaptureFixture) -> None:
    faulty = Client(FaultyControl(daemon))
    try:
        with caplog.at_level(logging.INFO):
            reply = faulty.get("/metrics")  # raise_app_exceptions: nothing escapes the app to the server either
    finally:
        faulty.close()
    assert reply.status_code == 503 and "logged why" in one_line_refusal(reply)["error"]
    errors = [r for r in caplog.records if r.getMessage() == "http_error"]
    assert len(errors) == 1 and errors[0].exc_info is None
    assert "RuntimeError: a fault of the daemon" in str(errors[0].__dict__["syncer_fields"]["error"])


def test_the_openapi_description_lists_every_route_of_the_app(daemon: Daemon) -> None:
    app = build_app(DaemonControl(daemon))
    routes = {
        (route.path, method.lower())
        for route in app.app.routes  # type: ignore[attr-defined]
        for method in route.methods - {"HEAD"}
    }
    assert routes == {(path, method) for path, operations in OPENAPI["paths"].items() for method in operations}


# The property test: any method, path, head and body, signed or not.

# Weighted towards the two POST doors, where the parsing happens; every route and method is still drawn.
ROUTES = st.one_of(
    st.just("/slack/interactions"),
    st.sampled_from(["/syncs/a/trigger", "/syncs/a/trigger?wait=true", "/syncs/zz/trigger"]),
    st.sampled_from(["/healthz", "/readyz", "/metrics", "/", "/syncs//trigger", "/slack/interactions/"]),
    st.builds(
        lambda name, query: f"/syncs/{name}/trigger?{query}",
        st.text("abcz_-%.", max_size=12),
        st.text("=&wait1truex", max_size=12),
    ),
)
METHODS = st.one_of(st.just("POST"), st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]))
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
NESTED = st.builds(lambda depth, opener: (opener * depth).encode(), st.integers(1, 20_000), st.sampled_from("[{"))
PAYLOADS = st.one_of(
    JSON.map(lambda doc: json.dumps(doc).encode()),
    NESTED,
    st.fixed_dictionaries({"type": st.just("block_actions"), "actions": st.lists(JSON, max_size=2)}).map(
        lambda d: json.dumps(d).encode()
    ),
)
BODIES = st.one_of(
    st.binary(max_size=2048),
    PAYLOADS.map(lambda p: urlencode({"payload": p.decode()}).encode()),
    PAYLOADS,
    st.sampled_from([CAP - 1, CAP + 1, 3 * CAP]).map(lambda n: b"y" * n),
)
HEADER_NAMES = st.text("abcdefghijklmnopqrstuvwxyz-_0123456789", min_size=1, max_size=20)
HEADER_VALUES = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=60)
AUTH = st.sampled_from([None, "", "Bearer", "Bearer wrong", f"Bearer {TOKEN}", f"bearer {TOKEN}", "Basic eA=="])
LENGTHS = st.sampled_from([None, "0", "1", str(CAP), str(CAP + 1), "99999999999999999999", "-1", "ab", " 5"])


@settings(
    max_examples=400,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    method=METHODS,
    path=ROUTES,
    headers=st.dictionaries(HEADER_NAMES, HEADER_VALUES, max_size=6),
    auth=AUTH,
    body=BODIES,
    sign=st.sampled_from(["now", "now", "no", "stale"]),
    length=LENGTHS,
    chunked=st.booleans(),
    content_type=st.sampled_from(
        [
            None,
            "application/x-www-form-urlencoded",
            "application/json",
            "multipart/form-data; boundary=x",
            "text/plain; charset=utf-9",
        ]
    ),
)
def test_no_input_gets_a_500_and_the_daemon_answers_after(
    client: Client,
    method: str,
    path: str,
    headers: dict[str, str],
    auth: str | None,
    body: bytes,
    sign: str,
    length: str | None,
    *,
    chunked: bool,
    content_type: str | None,
) -> None:
    head = dict(headers)
    if sign != "no":
        head.update(signed(body, time.time() - (0 if sign == "now" else 3600)))
    if auth is not None:
        head["Authorization"] = auth
    if content_type is not None:
        head["Content-Type"] = content_type
    if length is not None and not chunked:
        head["Content-Length"] = length
    content = [body[i : i + 4096] for i in range(0, len(body), 4096)] if chunked else body
    raw = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in head.items()]
    reply = client.request(method, path, content, raw)
    assert reply.status_code < 500 or reply.status_code == 503, (reply.status_code, reply.text)
    listed = documented(method, path)
    assert reply.status_code in (listed or {307, 404, 405, 413, 431, 400}), (method, path, reply.status_code)
    assert len(reply.content) <= MAX_ANSWER_BYTES
    if reply.status_code >= 400 and method != "HEAD":
        one_line_refusal(reply)
    assert client.get("/healthz").status_code == 200


def test_a_200_mb_chunked_body_leaves_the_daemon_process_memory_flat(tmp_path: Path, sandbox: Sandbox) -> None:
    """The finding: 200 MB chunked to /slack/interactions grew the daemon by 193 MB. Now by less than 20 MB."""
    port = free_port()
    root = write_project(
        tmp_path / "project",
        project_yaml(sandbox, "duckdb:///.syncer/state.duckdb", port),
        {"a": slack_mapping("a", "every 1h")},
        accounts=5,
    )
    with daemon_process(root, port) as running:

        def rss_kib() -> int:
            status = Path(f"/proc/{running.process.pid}/status").read_text()
            return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:")))

        assert running.get("/metrics").status_code == 200  # warm: the routes have run once
        before = rss_kib()
        total = 200 * 1024 * 1024
        started = time.monotonic()
        try:
            reply = httpx.post(running.url + "/slack/interactions", content=chunks(total), timeout=120)
            assert reply.status_code == 413 and one_line_refusal(reply)["error"] == f"body over {CAP} bytes"
            outcome = "413"
        except httpx.TransportError as exc:  # the daemon may close the connection once it has refused the body
            outcome = type(exc).__name__
        seconds = time.monotonic() - started
        grown_mib = (rss_kib() - before) / 1024
        assert grown_mib < 20, f"daemon RSS grew by {grown_mib:.1f} MiB"
        assert running.get("/healthz").status_code == 200
        # Below the app: a head larger than uvicorn's h11 limit (431), and bytes that are not HTTP (400), are
        # refused by the parser (with its own short text) and leave the daemon answering.
        for raw, status in (
            (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"v" * 100_000 + b"\r\n\r\n", b"431"),
            (b"\x16\x03\x01\x02\x00garbage\r\n\r\n", b"400"),
        ):
            with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
                conn.sendall(raw)
                assert conn.recv(100).startswith(b"HTTP/1.1 " + status)
        assert running.get("/healthz").status_code == 200
    print(f"200 MiB chunked body: answered {outcome} after {seconds:.1f} s; daemon RSS grew by {grown_mib:.1f} MiB")
