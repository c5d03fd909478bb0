"""The connect pages server: binds port 0 and says where, starts and stops as a service of the
agent loop, refuses a busy port with one line, and answers only plain, uncached HTML."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest
from test_connect_kit import connect_env

from agent.control.connect import ConnectError, ConnectFlows
from agent.control.connect_pages import ConnectPagesServer
from agent.sync.agent_loop import Service


def test_the_pages_bind_port_0_and_report_the_bound_address(tmp_path: Path) -> None:
    with connect_env(tmp_path, serve=False) as env:
        host, port = env.flows.serve()
        assert host == "127.0.0.1" and port > 0
        assert env.flows.pages.address == (host, port)
        assert env.flows.redirect_uri == f"http://localhost:{port}/callback"
        assert httpx.get(f"http://127.0.0.1:{port}/link", timeout=5).status_code == 200
        env.flows.stop()
        assert env.flows.pages.address is None
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/link", timeout=5)


def test_the_pages_are_a_service_of_the_agent_loop(tmp_path: Path) -> None:
    with connect_env(tmp_path, serve=False) as env:
        pages: Service = env.flows.pages
        assert isinstance(pages, ConnectPagesServer)
        assert pages.name == "connect pages"
        pages.start()
        pages.start()  # already running: nothing happens
        address = env.flows.pages.address
        assert address is not None
        root = httpx.get(f"http://127.0.0.1:{address[1]}/", timeout=5)
        assert root.status_code == 302 and root.headers["location"] == "/link"
        pages.stop()
        pages.stop()


def test_a_busy_port_is_one_clear_error(tmp_path: Path) -> None:
    with connect_env(tmp_path, serve=False) as env, socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        busy = env.settings.model_copy(update={"oauth_listen": f"127.0.0.1:{port}"})
        flows = ConnectFlows(busy, env.store, env.xero)
        with pytest.raises(ConnectError, match=f"cannot listen on 127.0.0.1:{port}") as refused:
            flows.serve()
        assert "ATX_OAUTH_LISTEN" in (refused.value.fix or "")
        assert flows.pages.address is None


def test_pages_are_plain_uncached_html_without_referrer(tmp_path: Path) -> None:
    with connect_env(tmp_path) as env:
        flow = env.flows.start()
        for response in (
            env.http.get(env.pages + "/link"),
            env.link("XXXX-XXXX"),
            env.http.get(env.pages + "/callback", params={"state": "x", "code": "y"}),
            env.link(flow["code"]),
        ):
            assert response.headers["cache-control"] == "no-store"
            assert response.headers["referrer-policy"] == "no-referrer"
            assert "script-src" not in response.headers["content-security-policy"]
            assert "<script" not in response.text


def test_a_code_xero_refuses_fails_the_flow_and_stores_nothing(tmp_path: Path) -> None:
    with connect_env(tmp_path) as env:
        flow = env.flows.start()
        redirect = env.consent(flow["code"])
        bogus = redirect.replace("code=", "code=bogus", 1)
        page = env.follow(bogus)
        assert page.status_code == 400
        assert "invalid_grant" in page.text
        failed = env.flows.get(flow["flow_id"])
        assert failed["state"] == "failed" and "invalid_grant" in failed["error"]
        assert env.store.connections.list_connections() == []
