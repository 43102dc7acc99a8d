"""docs/cli.md is written from aml's parser by docs/gen_cli.py: it must be what the script would write now."""
from __future__ import annotations

import importlib.util
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"


def test_docs_cli_md_is_up_to_date() -> None:
    spec = importlib.util.spec_from_file_location("gen_cli", DOCS / "gen_cli.py")
    assert spec is not None and spec.loader is not None
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    expected = gen.render()
    assert (DOCS / "cli.md").read_text() == expected, "docs/cli.md is out of date: run python docs/gen_cli.py"
    # Every command of the parser has its section and at least one example.
    for path, _ in gen._leaves(gen._parser(), []):
        section = expected.split(f"### aml {' '.join(path)}\n", 1)
        assert len(section) == 2, path
        assert "```bash\n" in section[1].split("\n### ", 1)[0] and "aml " in section[1], path
