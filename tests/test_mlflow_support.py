"""The supported MLflow range as the core reads it, and the bridge's code staying within Python 3.8.

(The bridge under real MLflow 2.x/3.x and Python 3.8-3.12 is tests/test_mlflow_versions.py, slow.)
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("req", ["mlflow==1.30.0", "mlflow-skinny<2", "mlflow~=1.27", "mlflow<2.10", "mlflow==1.*",
                                 "mlflow[extras]==1.30.0; python_version >= '3.8'", "MLflow_Skinny==2.9.4",
                                 "mlflow!=2.10.*,<2.11", "mlflow==2.10.0rc0"])
def test_requirements_that_only_install_old_mlflow_are_refused_with_what_to_change(req: str) -> None:
    from azuremlcore._environments._mlflow_support import check_mlflow_requirement

    problem = check_mlflow_requirement(req)
    assert problem is not None and ">=2.10" in problem and "Change the requirement" in problem


@pytest.mark.parametrize("req", ["mlflow", "mlflow-skinny", "mlflow-skinny==2.17.2", "mlflow>=1.0", "mlflow<=2.10",
                                 "mlflow-skinny==2.10.*", "mlflow==2.*", "mlflow>2.9", "mlflow==3.0.0rc1",
                                 "mlflow<3", "numpy==1.0", "azureml-mlflow==1.50", "mlflow @ https://example/m.whl",
                                 "-r requirements.txt", "./local/mlflow"])
def test_requirements_the_bridge_serves_or_cannot_judge_pass(req: str) -> None:
    from azuremlcore._environments._mlflow_support import check_mlflow_requirement

    assert check_mlflow_requirement(req) is None


def test_old_mlflow_2_gets_setuptools_with_pkg_resources() -> None:
    from azuremlcore._environments._mlflow_support import companion_requirements

    assert companion_requirements("mlflow-skinny==2.10.*") == ["setuptools<81"]
    assert companion_requirements("mlflow>=2.10,<2.12") == ["setuptools<81"]
    for newer in ("mlflow", "mlflow-skinny==2.17.2", "mlflow>=2.10", "mlflow==1.30", "numpy"):
        assert companion_requirements(newer) == []


def test_the_support_table_does_not_import_mlflow_or_the_bridge() -> None:
    import subprocess

    code = ("import sys, azuremlcore._environments._mlflow_support as m; m.check_mlflow_requirement('mlflow==1.0'); "
            "print(sorted(n for n in sys.modules if n.split('.')[0] in ('mlflow', 'azuremlmlflow')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=str(REPO))
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------------- Python 3.8 syntax and APIs
_NEWER_METHODS = {"removeprefix", "removesuffix"}  # 3.9
_GENERIC_BUILTINS = {"dict", "list", "tuple", "set", "frozenset", "type"}  # subscriptable at run time from 3.9
_TYPE_NAMES = {"int", "str", "float", "bool", "bytes", "dict", "list", "tuple", "set", "type"}


class _Newer(ast.NodeVisitor):
    """Run-time uses of what Python 3.8 lacks (annotations are strings under `from __future__ import annotations`)."""

    def __init__(self) -> None:
        self.found: list[str] = []

    def _skip_annotations(self, node: ast.AST) -> None:
        for name, value in ast.iter_fields(node):
            if name in ("annotation", "returns"):
                continue
            for child in value if isinstance(value, list) else [value]:
                if isinstance(child, ast.AST):
                    self.visit(child)

    visit_arg = visit_AnnAssign = _skip_annotations  # type: ignore[assignment]

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:  # noqa: N802 - ast's name
        self._skip_annotations(node)

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_Call(self, node: ast.Call) -> None:  # noqa: N802
        f = node.func
        if isinstance(f, ast.Attribute) and f.attr in _NEWER_METHODS:
            self.found.append(f"line {node.lineno}: .{f.attr}() (3.9)")
        name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
        for kw in node.keywords:
            if (name, kw.arg) in {("zip", "strict"), ("dataclass", "slots"), ("dataclass", "kw_only")}:
                self.found.append(f"line {node.lineno}: {name}({kw.arg}=) (3.10)")
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:  # noqa: N802
        if isinstance(node.value, ast.Name) and node.value.id in _GENERIC_BUILTINS:
            self.found.append(f"line {node.lineno}: {node.value.id}[...] at run time (3.9)")
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:  # noqa: N802
        def typeish(n: ast.AST) -> bool:
            return (isinstance(n, ast.Constant) and n.value is None) or (isinstance(n, ast.Name) and n.id in _TYPE_NAMES)
        if isinstance(node.op, ast.BitOr) and (typeish(node.left) or typeish(node.right)):
            self.found.append(f"line {node.lineno}: X | Y at run time (3.10)")
        self.generic_visit(node)


def _bridge_files() -> list[Path]:
    return sorted((REPO / "azuremlmlflow").glob("*.py")) + [
        REPO / "azuremlcore" / "_environments" / "_mlflow_support.py",
        REPO / "tests" / "mlflow_scripts" / "plain_mlflow.py"]


@pytest.mark.parametrize("path", _bridge_files(), ids=lambda p: p.name)
def test_bridge_code_runs_on_python_3_8(path: Path) -> None:
    source = path.read_text()
    tree = ast.parse(source, filename=str(path), feature_version=(3, 8))  # match, except*, (with ...) ... fail here
    if path.parent.name != "mlflow_scripts":
        assert "from __future__ import annotations" in source, "annotations must stay strings on Python 3.8"
    checker = _Newer()
    checker.visit(tree)
    assert not checker.found, f"{path.name}: " + "; ".join(checker.found)
