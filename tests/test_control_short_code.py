"""The connection cards' ``short_code`` (issue 4 left it null): Xero's /connections does not
give it; the Organisation call each cycle makes anyway does, and it is kept with the
organisation's other facts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from test_sync_kit import Rig, rig, seeded_world

from agent.control.service import AgentService


@pytest.fixture
def made(tmp_path: Path) -> Iterator[Rig]:
    with rig(tmp_path, seeded_world(10)) as made:
        yield made


def test_connections_show_the_organisations_short_code_once_synced(made: Rig) -> None:
    """Not from /connections (Xero's does not have it): from the Organisation call a cycle
    makes anyway; before the first cycle it is unknown (null)."""
    store = made.store()
    service = AgentService(made.settings(), store)
    assert {c["short_code"] for c in service.connections()} == {None}
    assert made.engine(store).run_cycle().ok
    codes = {c["tenant_id"]: c["short_code"] for c in service.connections()}
    expected = {o.tenant_id: o.short_code for o in made.world.xero_orgs}
    assert codes == expected and all(codes.values())
