"""Secrets at rest: encryption with ATX_SECRET_KEY, refusals, and Xero connections' tokens."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import sqlite_utils
from store_fixtures import START, TEST_KEY, FakeClock, open_store

from agent.store import SecretKeyMismatch, SecretKeyMissing, Store, TenantInfo
from agent.store.secrets import SecretBox, derive_fernet_key

ACCESS = "eyJhbGciOi.access-token-value"
REFRESH = "refresh-token-value-0001"
EXPIRES = START + timedelta(minutes=30)


def _connect(store: Store, *tenants: str) -> None:
    store.connections.save_authorization(
        auth_mode="pkce",
        client_id="client-1",
        access_token=ACCESS,
        refresh_token=REFRESH,
        expires_at=EXPIRES,
        scope=["offline_access", "accounting.transactions"],
        tenants=[TenantInfo(t, f"Org {t}", f"conn-{t}") for t in tenants],
    )


def _raw_grant_columns(store: Store) -> str:
    with sqlite_utils.Database(store.path) as db:
        return repr(list(db.query("SELECT * FROM xero_grants")))


def test_refuses_to_store_tokens_without_a_secret_key(tmp_path: Path) -> None:
    with open_store(tmp_path, FakeClock(), secret_key=None) as store:
        with pytest.raises(SecretKeyMissing) as refused:
            _connect(store, "tenant-a")

        assert "ATX_SECRET_KEY" in str(refused.value)
        assert "ATX_ALLOW_PLAINTEXT_SECRETS=true" in str(refused.value)
        assert store.connections.list_connections() == []


def test_refuses_to_store_a_ui_secret_without_a_secret_key(tmp_path: Path) -> None:
    with open_store(tmp_path, FakeClock(), secret_key=None) as store:
        with pytest.raises(SecretKeyMissing):
            store.secrets.set("autotask_secret", "s3cret")
        assert store.secrets.names() == []


def test_plaintext_secrets_are_stored_only_when_explicitly_allowed(tmp_path: Path) -> None:
    with open_store(tmp_path, FakeClock(), secret_key=None, allow_plaintext_secrets=True) as store:
        _connect(store, "tenant-a")
        assert store.connections.tokens("tenant-a").access_token == ACCESS
        assert ACCESS in _raw_grant_columns(store)


def test_tokens_are_encrypted_at_rest(tmp_path: Path) -> None:
    with open_store(tmp_path, FakeClock()) as store:
        _connect(store, "tenant-a")

        raw = _raw_grant_columns(store)
        assert ACCESS not in raw and REFRESH not in raw
        tokens = store.connections.tokens("tenant-a")
        assert (tokens.access_token, tokens.refresh_token, tokens.expires_at) == (
            ACCESS,
            REFRESH,
            EXPIRES,
        )
        assert tokens.scope == ("offline_access", "accounting.transactions")


def test_a_different_secret_key_gives_a_clear_one_line_error(tmp_path: Path) -> None:
    with open_store(tmp_path, FakeClock()) as store:
        _connect(store, "tenant-a")

    with open_store(tmp_path, FakeClock(), secret_key="another key") as store:
        assert store.connections.get("tenant-a") is not None  # listing needs no key
        with pytest.raises(SecretKeyMismatch) as refused:
            store.connections.tokens("tenant-a")

    message = str(refused.value)
    assert "different ATX_SECRET_KEY" in message and "\n" not in message
    assert refused.value.__cause__ is None and refused.value.__suppress_context__


def test_encrypted_tokens_cannot_be_read_without_the_key(tmp_path: Path) -> None:
    with open_store(tmp_path, FakeClock()) as store:
        _connect(store, "tenant-a")

    with (
        open_store(tmp_path, FakeClock(), secret_key=None) as store,
        pytest.raises(SecretKeyMissing, match="set ATX_SECRET_KEY"),
    ):
        store.connections.tokens("tenant-a")


def test_secrets_never_appear_in_reprs(tmp_path: Path) -> None:
    with open_store(tmp_path, FakeClock()) as store:
        _connect(store, "tenant-a")
        shown = repr(store.connections.tokens("tenant-a")) + repr(store.connections.get("tenant-a"))
        shown += repr(SecretBox(TEST_KEY)) + repr(store)

    assert ACCESS not in shown and REFRESH not in shown and TEST_KEY not in shown


def test_the_key_is_derived_the_same_way_every_time() -> None:
    assert derive_fernet_key(TEST_KEY) == derive_fernet_key(TEST_KEY)
    assert derive_fernet_key(TEST_KEY) != derive_fernet_key(TEST_KEY + "!")
    sealed = SecretBox(TEST_KEY).seal("value")
    assert SecretBox(TEST_KEY).open(sealed) == "value"


def test_ui_secrets_round_trip_encrypted(tmp_path: Path) -> None:
    with open_store(tmp_path, FakeClock()) as store:
        store.secrets.set("xero_client_secret", "cs-123")
        assert store.secrets.get("xero_client_secret") == "cs-123"
        assert store.secrets.names() == ["xero_client_secret"]
        with sqlite_utils.Database(store.path) as db:
            assert "cs-123" not in repr(list(db.query("SELECT * FROM secret_settings")))
        assert store.secrets.delete("xero_client_secret") is True
        assert store.secrets.get("xero_client_secret") is None


def test_organisations_of_one_authorisation_share_refreshed_tokens(tmp_path: Path) -> None:
    clock = FakeClock()
    with open_store(tmp_path, clock) as store:
        _connect(store, "tenant-a", "tenant-b")
        refreshed_at = clock.advance(1500)

        store.connections.update_tokens(
            "tenant-a",
            access_token="access-2",
            refresh_token="refresh-2",
            expires_at=refreshed_at + timedelta(minutes=30),
        )

        sibling = store.connections.tokens("tenant-b")
        assert (sibling.access_token, sibling.refresh_token) == ("access-2", "refresh-2")
        conn_b = store.connections.get("tenant-b")
        assert conn_b is not None
        assert conn_b.last_refresh_at == conn_b.refresh_token_issued_at == refreshed_at
        assert conn_b.expires_at == refreshed_at + timedelta(minutes=30)


def test_reconnecting_an_organisation_replaces_its_old_grant(tmp_path: Path) -> None:
    with open_store(tmp_path, FakeClock()) as store:
        _connect(store, "tenant-a")
        store.connections.set_status("tenant-a", "needs_reconnect")
        store.connections.save_authorization(
            auth_mode="client_credentials",
            client_id="client-2",
            access_token="cc-access",
            refresh_token=None,
            expires_at=EXPIRES,
            scope=["accounting.transactions"],
            tenants=[TenantInfo("tenant-a", "Org A renamed")],
        )

        (conn,) = store.connections.list_connections()
        assert (conn.tenant_name, conn.status, conn.auth_mode) == (
            "Org A renamed",
            "active",
            "client_credentials",
        )
        assert conn.has_refresh_token is False
        assert store.connections.tokens("tenant-a").refresh_token is None
        with sqlite_utils.Database(store.path) as db:
            assert db.table("xero_grants").count == 1  # the old grant is gone


def test_removing_an_organisation_forgets_it(tmp_path: Path) -> None:
    with open_store(tmp_path, FakeClock()) as store:
        _connect(store, "tenant-a")
        assert store.connections.remove("tenant-a") is True
        assert store.connections.get("tenant-a") is None
        assert store.connections.remove("tenant-a") is False
