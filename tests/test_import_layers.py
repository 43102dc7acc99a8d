"""The direction of imports: the import-linter contracts of setup.cfg hold, and no loop crosses a folder.

`lint-imports` checks the layers, the bridge's place and the loops inside folders; the count of
bench/import_layers.py adds what import-linter has no contract for: no loop between files of
different folders anywhere (loops among files of one folder, like the azureml.core mirrors, are
allowed) and no upward import at all.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_are_kept() -> None:
    done = subprocess.run([sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command as c; "
                           "sys.exit(c.main(args=['--no-cache', '--no-logo'], standalone_mode=False))"],
                          cwd=REPO, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert ", 0 broken." in done.stdout, done.stdout[-6000:]


def test_no_loop_across_folders_and_no_upward_import() -> None:
    sys.path.insert(0, str(REPO / "bench"))
    try:
        import import_layers
    finally:
        sys.path.remove(str(REPO / "bench"))
    report = import_layers.measure()
    assert report.cross_folder_loops == [], report.cross_folder_loops
    assert report.upward == [], report.upward
