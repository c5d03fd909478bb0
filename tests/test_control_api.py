"""The control API of a configured agent, over its Unix socket, against the sandbox: every
endpoint of docs/control-api.md (issue 4 §1).

One agent serves the whole module: it runs its first cycle at start (the seeded MSP, both Xero
organisations connected, the UK standard tax rate deliberately unmapped so some invoices block).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from test_control_kit import Running, running_agent, short_dir, wait_for
from test_mapping_support import SEEDED_TAX, TC_STANDARD, TR_UK
from test_sync_kit import Rig, rig

UNMAPPED_TAX = (TR_UK, TC_STANDARD)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Rig, Running]]:
    tmp = tmp_path_factory.mktemp("control")
    with short_dir() as folder, rig(tmp, skip_tax=UNMAPPED_TAX) as r:
        settings = r.settings(
            oauth_listen="127.0.0.1:0",
            oauth_redirect_uri="http://localhost:8742/callback",
            control_socket=folder / "c.sock",
        )
        with running_agent(r, settings) as run:
            with run.client() as c:
                wait_for(lambda: c.get("/status").json()["agent"]["last_cycle"])
            yield r, run


@pytest.fixture
def c(env: tuple[Rig, Running]) -> Iterator[httpx.Client]:
    with env[1].client() as client:
        yield client


def rows(c: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    answer = c.get("/queue", params={"limit": 500, **params})
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def assert_error(answer: httpx.Response, status: int) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    assert isinstance(body["error"], str) and body["error"]
    assert "\n" not in body["error"]
    assert "fix" in body
    return body


# -- health, status --------------------------------------------------------------------------


def test_health_and_status(c: httpx.Client, env: tuple[Rig, Running]) -> None:
    assert c.get("/health").json() == {"ok": True, "version": "0.1.0"}
    status = c.get("/status").json()
    agent = status["agent"]
    assert agent["state"] in ("idle", "cycling")
    assert agent["interval_minutes"] == 15 and agent["next_cycle_at"]
    last = agent["last_cycle"]
    assert last["seen"] > 0 and last["posted"] > 0 and last["blocked"] > 0
    assert status["setup"]["autotask"] and status["setup"]["xero"]
    assert status["setup"]["test_invoice"]  # documents reached Xero
    assert sum(status["counts"].values()) == len(rows(c))
    assert {x["name"] for x in status["connections"]} == {"Acme IT Pty Ltd", "Acme IT UK Ltd"}
    assert all(x["selected"] for x in status["connections"])
    kinds = {a["kind"]: a for a in status["attention"]}
    assert kinds["blocked"]["count"] == status["counts"]["blocked"]
    assert status["budgets"]["autotask"] is None or status["budgets"]["autotask"]["limit"] > 0


# -- the queue -----------------------------------------------------------------------------------


def test_queue_lists_filters_and_searches(c: httpx.Client, env: tuple[Rig, Running]) -> None:
    r = env[0]
    every = rows(c)
    assert every and all(item["number"] and item["customer"] for item in every)
    stamps = [item["updated_at"] for item in every]
    assert stamps == sorted(stamps, reverse=True)  # newest change first
    blocked = rows(c, state="blocked")
    assert blocked and all(item["state"] == "blocked" and item["block_reasons"] for item in blocked)
    both = rows(c, state=["blocked", "done"])
    assert {i["state"] for i in both} == {"blocked", "done"}
    uk = rows(c, org=r.uk)
    assert uk and all(i["org"] == r.uk and i["org_name"] == "Acme IT UK Ltd" for i in uk)
    credit = rows(c, kind="credit_note")
    assert all(i["kind"] == "credit_note" for i in credit)
    sample = every[3]
    by_number = rows(c, q=sample["number"])
    assert sample["id"] in {i["id"] for i in by_number}
    customer = sample["customer"][2:9].upper()
    by_customer = rows(c, q=customer)
    assert sample["id"] in {i["id"] for i in by_customer}
    assert all(
        customer.lower() in (i["customer"] or "").lower() or i["number"] for i in by_customer
    )
    if sample["xero_number"]:
        assert sample["id"] in {i["id"] for i in rows(c, q=sample["xero_number"].lower())}
    assert rows(c, q="no such customer anywhere") == []
    for odd in ("%", "_", '"', "\\", "'; DROP TABLE outbox; --"):
        assert rows(c, q=odd) == [], odd  # literal text, never a pattern or SQL
    assert rows(c, q=sample["autotask_id"])[0]["id"] == sample["id"]


def test_queue_pages_with_a_cursor(c: httpx.Client) -> None:
    every = rows(c)
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 7}
        if cursor:
            params["cursor"] = cursor
        page = c.get("/queue", params=params).json()
        assert page["total"] == len(every)
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [i["id"] for i in every]


def test_queue_refuses_bad_parameters(c: httpx.Client) -> None:
    body = assert_error(c.get("/queue", params={"limit": 501}), 400)
    assert "limit" in body["fields"]
    assert_error(c.get("/queue", params={"state": "nonsense"}), 400)
    assert_error(c.get("/queue", params={"cursor": "garbage"}), 400)


def test_queue_detail(c: httpx.Client) -> None:
    done = rows(c, state="done")[0]
    detail = c.get(f"/queue/{done['id']}").json()
    assert detail["id"] == done["id"] and detail["xero_number"]
    assert detail["payload"]["LineItems"]
    assert detail["provenance"][0]["line"] == 1 and detail["provenance"][0]["account"]
    assert detail["history"][0]["to_state"] == "discovered"
    assert detail["history"][-1]["to_state"] == "done"
    assert detail["actions"] == ["resync"] and detail["fix"] is None
    blocked = rows(c, state="blocked")[0]
    detail = c.get(f"/queue/{blocked['id']}").json()
    assert detail["actions"] == ["retry", "skip"] and detail["fix"]
    assert_error(c.get("/queue/999999"), 404)
    assert_error(c.get("/queue/0"), 400)


def test_row_actions(c: httpx.Client) -> None:
    blocked = rows(c, state="blocked")
    first, second = blocked[0]["id"], blocked[1]["id"]
    answer = c.post(f"/queue/{first}/skip", json={"reason": "handled by hand"}).json()
    assert answer["item"]["state"] == "skipped" and answer["message"]
    history = c.get(f"/queue/{first}").json()["history"]
    assert history[-1]["detail"] == "handled by hand"
    answer = c.post(f"/queue/{first}/retry").json()
    assert answer["item"]["state"] == "pending"
    assert c.post(f"/queue/{second}/skip").json()["item"]["state"] == "skipped"
    # Not allowed in the row's state: 409 with the fix.
    assert_error(c.post(f"/queue/{first}/resync"), 409)
    done = rows(c, state="done")[0]["id"]
    assert_error(c.post(f"/queue/{done}/retry"), 409)
    assert_error(c.post(f"/queue/{done}/skip"), 409)
    answer = c.post(f"/queue/{done}/resync").json()
    assert answer["item"]["state"] == "pending" and answer["item"]["xero_id"]
    assert_error(c.post("/queue/999999/retry"), 404)
    answer = c.post("/queue/retry-failed", json={"org": None}).json()
    assert answer["count"] == 0 and answer["message"]
    assert c.post("/queue/retry-failed").status_code == 200


# -- cycles --------------------------------------------------------------------------------------


def test_cycle_now(c: httpx.Client, env: tuple[Rig, Running]) -> None:
    loop = env[1].agent.loop
    wait_for(lambda: c.get("/status").json()["agent"]["state"] == "idle")
    before = loop.cycles
    answer = c.post("/cycle")
    assert answer.status_code == 202
    assert answer.json() == {"accepted": True, "message": "a sync cycle starts now"}
    wait_for(lambda: loop.cycles > before)
    # The resynced and retried rows of test_row_actions went out in that cycle.
    assert not rows(c, state="pending")


def test_sync_invoice(c: httpx.Client, env: tuple[Rig, Running]) -> None:
    done = rows(c, state="done")[0]
    preview = c.post(
        "/sync-invoice", json={"autotask_id": int(done["autotask_id"]), "dry_run": True}
    )
    assert preview.status_code == 200, preview.text
    body = preview.json()
    assert body["outcome"] == "previewed" and body["org"] == done["org"]
    assert body["payload"]["LineItems"] and body["provenance"][0]["line"] == 1
    blocked = rows(c, state="blocked")[0]
    answer = c.post(
        "/sync-invoice", json={"autotask_id": int(blocked["autotask_id"]), "dry_run": False}
    ).json()
    assert answer["outcome"] == "blocked" and answer["reasons"]
    sent = c.post("/sync-invoice", json={"autotask_id": int(done["autotask_id"])}).json()
    assert sent["outcome"] == "posted" and sent["xero_number"] == done["xero_number"]
    assert_error(c.post("/sync-invoice", json={"autotask_id": 424242, "dry_run": True}), 404)
    assert_error(c.post("/sync-invoice", json={"dry_run": True}), 400)


# -- settings ----------------------------------------------------------------------------------


def test_settings_report_sources_and_never_secrets(c: httpx.Client) -> None:
    values = c.get("/settings").json()["values"]
    secret = values["autotask_secret"]
    assert secret == {
        "value": None,
        "source": "env",
        "secret": True,
        "set": True,
        "editable": False,
        "choices": None,
    }
    assert values["autotask_username"]["source"] == "env"
    assert not values["autotask_username"]["editable"]
    assert values["days_back"] == {
        "value": 30,
        "source": "default",
        "secret": False,
        "set": True,
        "editable": True,
        "choices": None,
    }
    assert values["invoice_status"]["choices"] == ["DRAFT", "SUBMITTED", "AUTHORISED"]
    assert values["tax_mapping_enabled"]["value"] is True


def test_put_settings_is_all_or_nothing(c: httpx.Client) -> None:
    bad = c.put("/settings", json={"days_back": 5, "invoice_status": "SENT"})
    body = assert_error(bad, 400)
    assert set(body["fields"]) == {"invoice_status"}
    assert c.get("/settings").json()["values"]["days_back"]["source"] == "default"
    body = assert_error(c.put("/settings", json={"autotask_username": "x"}), 409)
    assert "ATX_AUTOTASK_USERNAME" in body["fields"]["autotask_username"]
    assert_error(c.put("/settings", json={"no_such_setting": 1}), 400)
    assert_error(c.put("/settings", json={}), 400)
    assert_error(c.put("/settings", json={"default_org": "not-a-tenant"}), 409)
    assert_error(c.put("/settings", json={"sync_interval_minutes": 0}), 400)
    good = c.put(
        "/settings",
        json={"days_back": 45, "invoice_status": "AUTHORISED", "sync_purchase_orders": True},
    )
    assert good.status_code == 200, good.text
    values = good.json()["values"]
    assert values["days_back"]["value"] == 45 and values["days_back"]["source"] == "stored"
    assert values["invoice_status"]["value"] == "AUTHORISED"
    assert values["sync_purchase_orders"]["value"] is True
    assert c.get("/status").json()["setup"]["options"]
    # Back to the defaults (null removes a stored value).
    reset = c.put(
        "/settings", json={"days_back": None, "invoice_status": None, "sync_purchase_orders": None}
    )
    assert reset.json()["values"]["days_back"]["source"] == "default"


# -- mappings, catalogs, Autotask lists ----------------------------------------------------------


def test_mappings_and_unblocking(c: httpx.Client, env: tuple[Rig, Running]) -> None:
    r = env[0]
    everything = c.get("/mappings").json()["items"]
    tax = c.get("/mappings", params={"kind": "tax", "org": r.uk}).json()["items"]
    assert tax and all(m["kind"] == "tax" and m["org"] == r.uk for m in tax)
    assert len(everything) > len(tax)
    key = f"{UNMAPPED_TAX[0]}:{UNMAPPED_TAX[1]}"
    assert key not in {m["key"] for m in tax}
    blocked_before = c.get("/status").json()["counts"]["blocked"]
    answer = c.put(
        "/mappings",
        json={
            "kind": "tax",
            "org": r.uk,
            "key": key,
            "value": SEEDED_TAX[1][UNMAPPED_TAX],
            "label": "UK standard",
        },
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["item"] == {
        "kind": "tax",
        "org": r.uk,
        "key": key,
        "value": SEEDED_TAX[1][UNMAPPED_TAX],
        "label": "UK standard",
    }
    assert body["unblocked"] > 0 and str(body["unblocked"]) in body["message"]
    assert c.get("/status").json()["counts"]["blocked"] == blocked_before - body["unblocked"]
    removed = c.put(
        "/mappings", json={"kind": "account", "org": "", "key": "999", "value": None}
    ).json()
    assert removed["item"]["value"] is None and removed["unblocked"] == 0
    assert_error(
        c.put("/mappings", json={"kind": "tax", "org": "elsewhere", "key": "1:1", "value": "X"}),
        404,
    )
    assert_error(
        c.put("/mappings", json={"kind": "weird", "org": "", "key": "1", "value": "X"}), 400
    )
    assert_error(c.get("/mappings", params={"kind": "weird"}), 400)


def test_catalogs(c: httpx.Client, env: tuple[Rig, Running]) -> None:
    r = env[0]
    accounts = c.get(f"/catalogs/{r.au}/accounts").json()
    assert accounts["items"] and accounts["refreshed_at"]
    assert any(a.get("Code") == "200" for a in accounts["items"])
    refreshed = c.post(f"/catalogs/{r.au}/refresh").json()
    assert refreshed["counts"]["accounts"] == len(accounts["items"])
    assert refreshed["counts"]["tax_rates"] > 0
    assert_error(c.get(f"/catalogs/{r.au}/nonsense"), 404)
    assert_error(c.get("/catalogs/nobody/accounts"), 404)
    assert_error(c.post("/catalogs/nobody/refresh"), 404)


def test_autotask_lists(c: httpx.Client) -> None:
    codes = c.get("/autotask/billing_codes").json()["items"]
    assert codes and all(i["id"] and i["label"] for i in codes)
    lines = c.get("/autotask/lines_of_business").json()["items"]
    assert lines and all(" / " in i["label"] for i in lines)
    for name in ("tax_regions", "tax_categories", "invoice_templates"):
        assert c.get(f"/autotask/{name}").json()["items"], name
    companies = c.get("/autotask/companies").json()["items"]
    assert 0 < len(companies) <= 50
    word = companies[0]["label"].split()[0]
    found = c.get("/autotask/companies", params={"q": word}).json()["items"]
    assert found and all(word.lower() in i["label"].lower() for i in found)
    # The keys of item mappings: products, services and bundles, prefixed as the mapping reads
    # them (agent/mapping/inputs.py), so a mapping made from this list reaches invoice lines.
    products = c.get("/autotask/products").json()["items"]
    prefixes = {i["id"].split(":")[0] for i in products}
    assert prefixes == {"product", "service", "bundle"}, prefixes
    assert all(i["id"].split(":")[1].isdigit() and i["label"] for i in products)
    word = products[0]["label"].split()[0]
    narrowed = c.get("/autotask/products", params={"q": word}).json()["items"]
    assert narrowed and all(word.lower() in i["label"].lower() for i in narrowed)
    assert_error(c.get("/autotask/nonsense"), 400)


# -- connections and connect ---------------------------------------------------------------------


def test_connections_and_selection(c: httpx.Client, env: tuple[Rig, Running]) -> None:
    r = env[0]
    cards = c.get("/connections").json()["items"]
    assert {x["tenant_id"] for x in cards} == {r.au, r.uk}
    assert all(x["auth_mode"] == "pkce" and x["refresh_expires_in_days"] for x in cards)
    chosen = c.post("/connections/select", json={"tenant_ids": [r.au]}).json()["items"]
    assert {x["tenant_id"]: x["selected"] for x in chosen} == {r.au: True, r.uk: False}
    service = env[1].service
    assert [t.tenant_id for t in service.xero_for_connect().ensure_connected()] == [r.au]
    again = c.post("/connections/select", json={"tenant_ids": [r.au, r.uk]}).json()["items"]
    assert all(x["selected"] for x in again)
    assert_error(c.post("/connections/select", json={"tenant_ids": ["nobody"]}), 404)
    assert_error(c.post("/connections/select", json={"tenant_ids": []}), 400)


def test_connect_flow_endpoints(c: httpx.Client, env: tuple[Rig, Running]) -> None:
    r = env[0]
    flow = c.post("/connect").json()
    assert flow["state"] == "waiting" and len(flow["code"]) == 9
    assert flow["redirect_uri"] == "http://localhost:8742/callback"
    assert flow["link"].endswith("/link") and flow["ssh_hint"].startswith("ssh -L 8742:")
    assert c.get(f"/connect/{flow['flow_id']}").json() == flow
    # The browser's part: the code on /link, then Xero (the sandbox consents at once).
    with httpx.Client(timeout=30) as browser:
        to_xero = browser.get(flow["link"], params={"code": flow["code"]})
        assert to_xero.status_code == 302, to_xero.text
        back = browser.get(to_xero.headers["location"])
        assert back.status_code == 302
        pasted = back.headers["location"]
    assert pasted.startswith("http://localhost:8742/callback?")
    wrong = c.post(f"/connect/{flow['flow_id']}/paste", json={"url": "http://localhost/x?a=b"})
    assert_error(wrong, 400)
    done = c.post(f"/connect/{flow['flow_id']}/paste", json={"url": pasted})
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["state"] == "connected" and body["error"] is None
    assert {o["tenant_id"] for o in body["organisations"]} == {r.au, r.uk}
    replay = c.post(f"/connect/{flow['flow_id']}/paste", json={"url": pasted})
    assert_error(replay, 409)
    assert_error(c.get("/connect/nope"), 404)
    # The environment chose PKCE: a custom connection is refused with the fix.
    assert_error(c.post("/connect/client-credentials", json={}), 409)


# -- logs, unknown paths -------------------------------------------------------------------------


def test_logs(c: httpx.Client) -> None:
    lines = c.get("/logs").json()["items"]
    assert lines and all(set(line) == {"id", "at", "level", "logger", "message"} for line in lines)
    ids = [line["id"] for line in lines]
    assert ids == sorted(ids)
    cycles = c.get("/logs", params={"q": "invoices seen", "limit": 5}).json()["items"]
    assert cycles and all("invoices seen" in line["message"] for line in cycles)
    warnings = c.get("/logs", params={"level": "WARNING"}).json()["items"]
    assert all(line["level"] in ("WARNING", "ERROR") for line in warnings)
    assert_error(c.get("/logs", params={"level": "LOUD"}), 400)


def test_unknown_paths_and_methods_answer_json(c: httpx.Client) -> None:
    assert_error(c.get("/nothing/here"), 404)
    assert_error(c.delete("/status"), 405)


def test_openapi_is_served(c: httpx.Client) -> None:
    schema = c.get("/openapi.json").json()
    paths = set(schema["paths"])
    for path in (
        "/health",
        "/status",
        "/queue",
        "/queue/{id}",
        "/queue/{id}/retry",
        "/queue/{id}/skip",
        "/queue/{id}/resync",
        "/queue/retry-failed",
        "/cycle",
        "/sync-invoice",
        "/settings",
        "/setup/autotask",
        "/mappings",
        "/catalogs/{org}/{name}",
        "/catalogs/{org}/refresh",
        "/autotask/{name}",
        "/connections",
        "/connections/select",
        "/connect",
        "/connect/{flow_id}",
        "/connect/{flow_id}/paste",
        "/connect/client-credentials",
        "/logs",
        "/events",
    ):
        assert path in paths, path
    assert "422" not in str(schema["paths"]["/queue"])


def test_the_socket_is_private(env: tuple[Rig, Running]) -> None:
    sock = Path(env[1].socket)
    assert sock.is_socket()
    assert sock.stat().st_mode & 0o777 == 0o600


def test_queue_and_cycle_events(c: httpx.Client, env: tuple[Rig, Running]) -> None:
    from test_control_kit import read_events

    run = env[1]
    target = rows(c, state="blocked")[0]["id"]
    comments: list[str] = []
    with run.client() as watcher, watcher.stream("GET", "/events") as response:
        assert c.post(f"/queue/{target}/skip").status_code == 200
        assert c.post("/cycle").status_code == 202

        def seen(events: list[Any]) -> bool:
            queue = [e for e in events if e.name == "queue" and e.data["id"] == target]
            finished = [e for e in events if e.name == "cycle" and e.data["phase"] == "finished"]
            after = {e.name for e in events[events.index(finished[0]) :]} if finished else set()
            return bool(queue) and {"budget", "status"} <= after

        events = read_events(response, seen, comments=comments)
    skipped = [e.data for e in events if e.name == "queue" and e.data["id"] == target]
    assert skipped[0]["state"] == "skipped" and skipped[0]["number"]
    phases = [e.data["phase"] for e in events if e.name == "cycle"]
    assert phases[0] == "started" and phases[-1] == "finished"
    assert {"polled", "marking"} <= set(phases)
    finished = [e.data for e in events if e.name == "cycle"][-1]
    assert finished["summary"]["finished_at"]
    assert "budget" in {e.name for e in events} and "status" in {e.name for e in events}


def test_a_changed_setting_rebuilds_the_runtime_and_the_schedule(
    c: httpx.Client, env: tuple[Rig, Running]
) -> None:
    service = env[1].service
    loop = env[1].agent.loop
    before = service._runtime
    assert before is not None
    answer = c.put("/settings", json={"sync_interval_minutes": 7, "days_back": 40})
    assert answer.status_code == 200, answer.text
    wait_for(lambda: loop.interval_minutes == 7)
    status = c.get("/status").json()["agent"]
    assert status["interval_minutes"] == 7
    cycles = loop.cycles
    assert c.post("/cycle").json()["accepted"]
    wait_for(lambda: loop.cycles > cycles)
    after = service._runtime
    assert after is not None and after is not before
    assert after.settings.days_back == 40 and after.settings.sync_interval_minutes == 7
    c.put("/settings", json={"sync_interval_minutes": None, "days_back": None})
