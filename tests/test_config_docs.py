""".env.example and docs/configuration.md are generated from the settings model: no drift."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent.cli import main
from agent.config import PROCESS_VARIABLES, Settings, env_name
from agent.config_docs import env_example, reference_markdown, variables

REPO = Path(__file__).resolve().parent.parent
REGENERATE = "regenerate it: .venv/bin/atx config {} > {}"


def test_env_example_is_the_generated_one() -> None:
    committed = (REPO / ".env.example").read_text(encoding="utf-8")
    assert committed == env_example(), REGENERATE.format("example", ".env.example")


def test_configuration_reference_is_the_generated_one() -> None:
    committed = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert committed == reference_markdown(), REGENERATE.format(
        "reference", "docs/configuration.md"
    )


def test_the_commands_print_them(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "example"]) == 0
    assert capsys.readouterr().out == env_example()
    assert main(["config", "reference"]) == 0
    assert capsys.readouterr().out == reference_markdown()


def test_every_setting_has_a_one_line_description() -> None:
    for name, info in Settings.model_fields.items():
        assert info.description, f"Settings.{name} needs description="
        assert "\n" not in info.description.strip()


def test_every_atx_variable_is_in_both_files() -> None:
    names = {v.name for v in variables()}
    assert names == {env_name(f) for f in Settings.model_fields} | set(PROCESS_VARIABLES)
    example = env_example()
    reference = reference_markdown()
    for name in names:
        assert f"# {name}=" in example, name
        assert f"| `{name}` |" in reference, name


def test_every_atx_variable_the_code_names_is_documented() -> None:
    documented = {v.name for v in variables()}
    named: set[str] = set()
    for path in [*(REPO / "agent").rglob("*.py"), *(REPO / "tui").rglob("*.py")]:
        named |= set(re.findall(r"\bATX_[A-Z][A-Z0-9_]*[A-Z0-9]\b", path.read_text("utf-8")))
    # ATX_NAME is a placeholder in messages, not a variable.
    assert named - {"ATX_NAME"} <= documented, sorted(named - documented)


def test_the_example_parses_as_a_dotenv_that_keeps_every_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Uncommenting a line as it stands never makes the settings invalid."""
    lines = [
        line.removeprefix("# ")
        for line in env_example().splitlines()
        if line.startswith("# ATX_") and not line.endswith("=")
    ]
    (tmp_path / ".env").write_text("\n".join(lines) + "\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    uncommented = Settings()
    defaults = Settings(_env_file=None)  # type: ignore[call-arg]
    for name in Settings.model_fields:
        if name in ("data_dir",):
            continue
        assert getattr(uncommented, name) == getattr(defaults, name), name
