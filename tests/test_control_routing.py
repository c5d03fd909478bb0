"""The control API's side of several Xero organisations (issue 5 §4): the setup warns when the
Autotask API user cannot see every line of business; the routing kinds and settings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from test_control_kit import Running, running_agent, settings_without, short_dir
from test_sync_kit import Rig, rig, seeded_world

from agent.autotask import AutotaskClient, AutotaskConfigError
from sandbox import seed_catalog as cat
from sandbox.admin import HIDE_LOB_PATH
from sandbox.seed import (
    RESTRICTED_AUTOTASK_SECRET,
    RESTRICTED_AUTOTASK_USERNAME,
    RESTRICTED_LOB_ASSOCIATION_IDS,
)
from sandbox.world import (
    SANDBOX_AUTOTASK_INTEGRATION_CODE,
    SANDBOX_AUTOTASK_SECRET,
    SANDBOX_AUTOTASK_USERNAME,
)

AUTOTASK = ("autotask_username", "autotask_secret", "autotask_integration_code")
UDF = "Xero Books"


def credentials(username: str, secret: str) -> dict[str, Any]:
    return {
        "username": username,
        "secret": secret,
        "integration_code": SANDBOX_AUTOTASK_INTEGRATION_CODE,
    }


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Rig, Running]]:
    world = seeded_world(60)
    for index, record in enumerate(world.autotask["Companies"]):
        value = "United Kingdom" if index % 2 else "Australia"
        record["userDefinedFields"] = [{"name": UDF, "value": value}]
    tmp = tmp_path_factory.mktemp("routing-api")
    with short_dir() as folder, rig(tmp, world) as r:
        settings = settings_without(
            r.settings(),
            *AUTOTASK,
            oauth_listen="127.0.0.1:0",
            oauth_redirect_uri="http://localhost:8742/callback",
            control_socket=folder / "c.sock",
        )
        with running_agent(r, settings) as run:
            yield r, run


@pytest.fixture
def c(env: tuple[Rig, Running]) -> Iterator[httpx.Client]:
    with env[1].client() as client:
        yield client


def test_setup_warns_when_the_api_user_cannot_see_every_line_of_business(
    env: tuple[Rig, Running], c: httpx.Client
) -> None:
    r = env[0]
    assert set(cat.ORG_ASSOCIATIONS) != RESTRICTED_LOB_ASSOCIATION_IDS
    limited = c.post(
        "/setup/autotask",
        json=credentials(RESTRICTED_AUTOTASK_USERNAME, RESTRICTED_AUTOTASK_SECRET),
    )
    assert limited.status_code == 200, limited.text
    body = limited.json()
    assert body["ok"] is True and body["error"] is None  # the user works: a warning only
    warning = body["warning"]
    assert warning and "\n" not in warning
    assert "cannot see every line of business" in warning
    assert "of 20 recent invoices" in warning and "visible lines" in warning

    # The user who sees everything: no warning.
    full = c.post(
        "/setup/autotask", json=credentials(SANDBOX_AUTOTASK_USERNAME, SANDBOX_AUTOTASK_SECRET)
    ).json()
    assert full["ok"] is True and full["warning"] is None

    # The sandbox can hide one line of business from the user who saw everything.
    steer = f"{r.urls.xero_api_url}{HIDE_LOB_PATH}"
    hide = httpx.post(steer, json={"username": SANDBOX_AUTOTASK_USERNAME, "hidden": [201]})
    assert hide.status_code == 200 and hide.json()["hidden"] == [201]
    try:
        hidden = c.post(
            "/setup/autotask",
            json=credentials(SANDBOX_AUTOTASK_USERNAME, SANDBOX_AUTOTASK_SECRET),
        ).json()
    finally:
        httpx.post(steer, json={"username": SANDBOX_AUTOTASK_USERNAME, "hidden": []})
    assert hidden["ok"] is True and hidden["warning"]
    assert httpx.post(steer, json={"username": "nobody", "hidden": []}).status_code == 404
    assert httpx.post(steer, json={"hidden": "x"}).status_code == 400

    # A failed test carries no warning.
    wrong = c.post(
        "/setup/autotask", json=credentials(SANDBOX_AUTOTASK_USERNAME, "not-the-secret")
    ).json()
    assert wrong["ok"] is False and wrong["warning"] is None


def test_the_routing_kinds_through_put_mappings(env: tuple[Rig, Running], c: httpx.Client) -> None:
    r = env[0]
    for kind, key in (
        ("routing_company", "174009"),
        ("routing_udf", "United Kingdom"),
        ("routing_currency", "gbp"),
    ):
        saved = c.put("/mappings", json={"kind": kind, "org": "", "key": key, "value": r.uk})
        assert saved.status_code == 200, saved.text
        own = c.put("/mappings", json={"kind": kind, "org": r.au, "key": key, "value": r.uk})
        assert own.status_code == 400 and "every organisation" in own.json()["error"]
    items = c.get("/mappings", params={"kind": "routing_currency"}).json()["items"]
    assert [(i["key"], i["value"]) for i in items] == [("GBP", r.uk)]
    assert c.get("/mappings", params={"kind": "routing_udf"}).json()["items"][0]["key"] == (
        "United Kingdom"
    )


def test_the_routing_settings(c: httpx.Client) -> None:
    halve = c.put("/settings", json={"mixed_invoice": "halve"})
    assert halve.status_code == 400 and "split" in halve.json()["fields"]["mixed_invoice"]
    split = c.put("/settings", json={"mixed_invoice": "split"})
    assert split.status_code == 200 and split.json()["values"]["mixed_invoice"]["value"] == "split"
    saved = c.put("/settings", json={"mixed_invoice": "block", "routing_udf_name": UDF})
    assert saved.status_code == 200, saved.text
    values = saved.json()["values"]
    assert values["mixed_invoice"]["value"] == "block"
    assert values["routing_udf_name"]["value"] == UDF


def test_the_udf_values_list_offers_the_routing_udf_keys(c: httpx.Client) -> None:
    c.post("/setup/autotask", json=credentials(SANDBOX_AUTOTASK_USERNAME, SANDBOX_AUTOTASK_SECRET))
    answer = c.get("/autotask/udf_values", params={"q": UDF})
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    assert [i["id"] for i in items] == ["Australia", "United Kingdom"]
    assert all("compan" in i["label"] for i in items)
    assert c.get("/autotask/udf_values").json()["items"] == []


def test_credentials_that_cannot_travel_as_headers_are_refused(
    env: tuple[Rig, Running], c: httpx.Client
) -> None:
    """(Found by the schema test: a non-ASCII secret stored through PUT /settings made every
    Autotask call fail with a 500.)"""
    odd = c.post("/setup/autotask", json=credentials(SANDBOX_AUTOTASK_USERNAME, "sécret"))
    assert odd.status_code == 400 and "ASCII" in odd.json()["error"]
    settings = env[0].settings(autotask_secret="sécret")
    with pytest.raises(AutotaskConfigError, match="ATX_AUTOTASK_SECRET"):
        AutotaskClient.from_settings(settings)
