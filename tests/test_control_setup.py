"""An agent started before it is configured (issue 4 §1): it serves the API, runs no cycle, says
what is missing, tests the Autotask API user before storing it, and starts syncing by itself
once Autotask and a Xero organisation are set up, without a restart."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
from test_control_kit import browser_consent, running_agent, settings_without, short_dir, wait_for
from test_sync_kit import rig

from sandbox.world import (
    SANDBOX_AUTOTASK_INTEGRATION_CODE,
    SANDBOX_AUTOTASK_SECRET,
    SANDBOX_AUTOTASK_USERNAME,
    SANDBOX_XERO_CUSTOM_CLIENT_ID,
    SANDBOX_XERO_CUSTOM_CLIENT_SECRET,
)

AUTOTASK = ("autotask_username", "autotask_secret", "autotask_integration_code")
XERO_APP = ("xero_client_id", "xero_client_secret", "xero_auth_mode")


def credentials(**changes: str) -> dict[str, Any]:
    return {
        "username": SANDBOX_AUTOTASK_USERNAME,
        "secret": SANDBOX_AUTOTASK_SECRET,
        "integration_code": SANDBOX_AUTOTASK_INTEGRATION_CODE,
    } | changes


def test_setup_from_nothing_to_syncing(tmp_path: Path) -> None:
    with short_dir() as folder, rig(tmp_path, connect=False) as r:
        settings = settings_without(
            r.settings(),
            *AUTOTASK,
            oauth_listen="127.0.0.1:0",
            oauth_redirect_uri="http://localhost:8742/callback",
            control_socket=folder / "c.sock",
        )
        with running_agent(r, settings) as run, run.client() as c:
            status = c.get("/status").json()
            assert status["agent"]["state"] == "setup"
            assert status["agent"]["next_cycle_at"] is None
            # (options: ATX_INVOICE_NUMBER_PREFIX is given; accounts: the billing-code mappings
            # the rig made do not tick the chart-of-accounts step)
            assert status["setup"] == {
                "autotask": False,
                "xero": False,
                "options": True,
                "accounts": False,
                "test_invoice": False,
            }
            assert {a["kind"] for a in status["attention"]} == {"setup"}
            assert c.post("/cycle").status_code == 409
            assert c.post("/sync-invoice", json={"autotask_id": 1}).status_code == 409
            assert c.get("/autotask/tax_regions").status_code == 409

            # Wrong credentials: the exact error and the fix, nothing stored.
            wrong = c.post("/setup/autotask", json=credentials(secret="not-the-secret"))
            assert wrong.status_code == 200, wrong.text
            body = wrong.json()
            assert body["ok"] is False and body["zone_url"] is None
            assert body["error"] and "\n" not in body["error"] and body["fix"]
            assert "not-the-secret" not in wrong.text
            values = c.get("/settings").json()["values"]
            assert values["autotask_secret"]["set"] is False
            assert values["autotask_username"]["source"] == "default"
            missing = c.post("/setup/autotask", json=credentials(username=" "))
            assert missing.status_code == 400

            # Right ones: zone shown, stored (the secrets encrypted), step ticked.
            right = c.post("/setup/autotask", json=credentials()).json()
            assert right == {
                "ok": True,
                "zone_url": r.urls.autotask_zone_url,
                "error": None,
                "fix": None,
                "warning": None,  # this API user sees every line of business
            }
            values = c.get("/settings").json()["values"]
            assert values["autotask_username"] == {
                "value": SANDBOX_AUTOTASK_USERNAME,
                "source": "stored",
                "secret": False,
                "set": True,
                "editable": True,
                "choices": None,
            }
            assert values["autotask_secret"]["source"] == "stored"
            assert values["autotask_secret"]["set"] and values["autotask_secret"]["value"] is None
            database = (settings.data_dir / "atx.db").read_bytes()
            assert SANDBOX_AUTOTASK_SECRET.encode() not in database
            status = c.get("/status").json()
            assert status["setup"]["autotask"] and status["agent"]["state"] == "setup"
            assert c.get("/autotask/tax_regions").json()["items"]

            # Xero: the connect flow, pasted back.
            flow = c.post("/connect").json()
            pasted = browser_consent(flow)
            connected = c.post(f"/connect/{flow['flow_id']}/paste", json={"url": pasted}).json()
            assert connected["state"] == "connected"

            # The wizard is not finished (status, numbering, accounts, test invoice): nothing
            # is sent by a cycle; one invoice can be previewed.
            time.sleep(1.5)
            status = c.get("/status").json()
            assert status["setup"]["xero"] and not status["setup"]["test_invoice"]
            assert status["agent"]["state"] == "setup" and status["agent"]["next_cycle_at"] is None
            assert status["agent"]["last_cycle"] is None and not status["counts"].get("done")
            refused = c.post("/cycle")
            assert refused.status_code == 409 and "POST /setup/finish" in refused.json()["fix"]
            invoice = c.get("/autotask/unsent_invoices").json()["items"][0]
            preview = c.post(
                "/sync-invoice", json={"autotask_id": int(invoice["id"]), "dry_run": True}
            ).json()
            assert preview["outcome"] in ("previewed", "blocked")

            # Start syncing: the agent syncs by itself.
            finished = c.post("/setup/finish")
            assert finished.status_code == 200 and finished.json()["accepted"] is True

            def synced() -> Any:
                return c.get("/status").json()["agent"]["last_cycle"]

            last = wait_for(synced)
            assert last["seen"] > 0 and last["posted"] > 0
            status = c.get("/status").json()
            assert status["setup"]["xero"] and status["setup"]["test_invoice"]
            assert status["agent"]["state"] in ("idle", "cycling")
            assert status["agent"]["next_cycle_at"]


def test_an_environment_set_up_agent_syncs_as_soon_as_xero_is_connected(tmp_path: Path) -> None:
    with short_dir() as folder, rig(tmp_path, connect=False) as r:
        settings = settings_without(
            r.settings(),
            oauth_listen="127.0.0.1:0",
            oauth_redirect_uri="http://localhost:8742/callback",
            control_socket=folder / "c.sock",
        )
        with running_agent(r, settings) as run, run.client() as c:
            assert c.post("/setup/finish").status_code == 409  # no Xero yet
            flow = c.post("/connect").json()
            pasted = browser_consent(flow)
            c.post(f"/connect/{flow['flow_id']}/paste", json={"url": pasted})
            last = wait_for(lambda: c.get("/status").json()["agent"]["last_cycle"])
            assert last["posted"] > 0


def test_custom_connection_through_the_api(tmp_path: Path) -> None:
    with short_dir() as folder, rig(tmp_path, connect=False, mappings=False) as r:
        settings = settings_without(
            r.settings(), *XERO_APP, oauth_listen="127.0.0.1:0", control_socket=folder / "c.sock"
        )
        with running_agent(r, settings) as run, run.client() as c:
            assert c.get("/status").json()["setup"]["xero"] is False
            bad = c.post(
                "/connect/client-credentials",
                json={"client_id": SANDBOX_XERO_CUSTOM_CLIENT_ID, "client_secret": "wrong-secret"},
            )
            assert bad.status_code == 409 and "wrong-secret" not in bad.text
            answer = c.post(
                "/connect/client-credentials",
                json={
                    "client_id": SANDBOX_XERO_CUSTOM_CLIENT_ID,
                    "client_secret": SANDBOX_XERO_CUSTOM_CLIENT_SECRET,
                },
            )
            assert answer.status_code == 200, answer.text
            cards = answer.json()["items"]
            assert cards and all(card["auth_mode"] == "client_credentials" for card in cards)
            values = c.get("/settings").json()["values"]
            assert values["xero_auth_mode"]["value"] == "client_credentials"
            assert values["xero_client_secret"] == {
                "value": None,
                "source": "stored",
                "secret": True,
                "set": True,
                "editable": True,
                "choices": None,
            }
            assert SANDBOX_XERO_CUSTOM_CLIENT_SECRET not in answer.text
            assert c.get("/status").json()["setup"]["xero"]
            last = wait_for(lambda: c.get("/status").json()["agent"]["last_cycle"])
            assert last["seen"] > 0


def test_atx_agent_starts_unconfigured_and_stops_on_sigterm(tmp_path: Path) -> None:
    """The command itself: no Autotask user, no Xero app; it serves the API and waits."""
    import os
    import signal
    import subprocess
    import sys

    from test_control_kit import wait_for as wait

    with short_dir() as folder:
        sock = folder / "c.sock"
        env = {k: v for k, v in os.environ.items() if not k.startswith("ATX_")}
        env |= {
            "ATX_DATA_DIR": str(tmp_path / "data"),
            "ATX_SECRET_KEY": "a-key-for-this-test",
            "ATX_CONTROL_SOCKET": str(sock),
            "ATX_OAUTH_LISTEN": "127.0.0.1:0",
        }
        agent = subprocess.Popen(
            [sys.executable, "-m", "agent.cli", "agent"],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            wait(sock.exists, timeout=60)
            client = httpx.Client(transport=httpx.HTTPTransport(uds=str(sock)), base_url="http://a")
            with client:
                status = wait(lambda: client.get("/status").json(), timeout=30)
                assert status["agent"]["state"] == "setup"
                assert not status["setup"]["autotask"] and not status["setup"]["xero"]
                assert sock.stat().st_mode & 0o777 == 0o600
            health = subprocess.run(
                [sys.executable, "-m", "agent.cli", "health"],
                env=env,
                cwd=tmp_path,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert health.returncode == 0 and "ok: agent 0.1.0" in health.stdout
        finally:
            agent.send_signal(signal.SIGTERM)
            out, err = agent.communicate(timeout=60)
        assert agent.returncode == 0, err
        assert "not set up yet" in out
        assert not sock.exists()
