"""`azuremlcore.widgets.RunDetails` and the notebook tables (`_repr_html_`), outside a kernel.

The kernel itself (widget messages, saved widget state) is exercised by the notebook in
examples/notebooks (tests/test_example_notebooks.py); here the data, the HTML, the fallbacks and
the refresher thread are checked on real runs of real workspaces (embedded and on a live server).
"""
from __future__ import annotations

import math
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from conftest_server import live_server  # noqa: F401 - fixture

try:
    import ipywidgets  # noqa: F401
except ImportError:
    if os.environ.get("CI"):
        raise  # CI installs the test extra: a missing ipywidgets is a broken set-up, not a reason to skip
    pytest.skip(reason="ipywidgets is not installed (the test and notebook extras have it)", allow_module_level=True)

from azuremlcore.widgets import RunDetails, run_details  # noqa: E402
from azuremlcore.widgets._render import page_html  # noqa: E402
from azuremlcore.widgets._svg import downsample, line_chart  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


class Displayed:
    """Stands in for IPython's `display` (no kernel here): records what was displayed, hands out a handle."""

    def __init__(self) -> None:
        self.objects: list[Any] = []
        self.updates: list[Any] = []

    def __call__(self, obj: Any, display_id: Any = None) -> Any:
        self.objects.append(obj)
        outer = self

        class Handle:
            def update(self, new: Any) -> None:
                outer.updates.append(new)

        return Handle() if display_id else None


@pytest.fixture
def shown(monkeypatch: pytest.MonkeyPatch) -> Displayed:
    """`show()` displays into a recorder; the refresher polls every few milliseconds."""
    recorder = Displayed()
    monkeypatch.setattr(run_details, "_ipython_display", lambda: recorder)  # as in a Jupyter kernel
    monkeypatch.setattr(run_details, "MIN_INTERVAL_S", 0.02)
    monkeypatch.setattr(run_details, "MAX_INTERVAL_S", 0.1)
    return recorder


def _finished_run(experiment):  # type: ignore[no-untyped-def]
    run = experiment.start_logging(outputs=False)
    for i in range(30):
        run.log("loss", 1 / (i + 1))
    run.log("alpha", 0.5)
    run.log_row("scores", fold=1, auc=0.9)
    child = run.child_run(name="trial-1")
    child.log("acc", 0.75)
    child.complete()
    run.complete()
    return run


# ---------------------------------------------------------------------------------------------- charts
def test_downsample_keeps_extremes_and_drops_non_finite() -> None:
    values = [0.0] * 10_000
    values[1234], values[8765] = 50.0, -7.0
    values[42] = math.nan
    points = downsample(values, 100)
    assert len(points) <= 200
    assert (1234, 50.0) in points and (8765, -7.0) in points
    assert all(math.isfinite(v) for _, v in points)
    assert downsample([1, 2, 3], 100) == [(0, 1.0), (1, 2.0), (2, 3.0)]


def test_line_chart_is_escaped_svg() -> None:
    svg = line_chart([1, 3, 2], "<script>x</script>")
    assert svg.startswith("<svg") and "<polyline" in svg and "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert "no numeric values" in line_chart([math.inf, math.nan], "x")
    assert "<circle" in line_chart([5], "one point")


# ---------------------------------------------------------------------------------------------- data
def test_widget_data_of_a_finished_run(experiment) -> None:  # type: ignore[no-untyped-def]
    run = _finished_run(experiment)
    run.tag("team", "<vision>")
    data = RunDetails(run).get_widget_data({"display": "full"})
    assert data["run_id"] == run.id and data["status"] == "Completed" and data["is_terminal"]
    assert data["workbench_run_details_uri"] == run.get_portal_url()
    assert data["widget_settings"] == {"display": "full"}
    metrics = {m["name"]: m for m in data["run_metrics"]}
    assert metrics["loss"]["kind"] == "series" and metrics["loss"]["series"][0]["data"][-1] == pytest.approx(1 / 30)
    assert metrics["alpha"]["last"] == 0.5 and metrics["scores"]["kind"] == "table"
    [child] = data["child_runs"]
    assert child["name"] == "trial-1" and child["status"] == "Completed" and child["metrics"] == {"acc": 0.75}
    assert child["url"] == run.get_portal_url().replace(run.id, child["run_id"])
    assert data["duration"].count(":") == 2
    html = page_html(data)
    assert "loss" in html and "<svg" in html and "trial-1" in html and "Completed" in html
    assert "team: &lt;vision&gt;" in html and data["start_time_utc"][:10] in html and " UTC</span>" in html


def test_log_tail_follows_a_growing_log(experiment, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from azuremlcore._tracking.files_mixin import STREAMED_LOG

    run = experiment.start_logging(outputs=False)
    details = RunDetails(run)
    assert details.get_widget_data()["run_logs"] == ""
    log = run._artifacts.local_path(run._container, STREAMED_LOG)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("epoch 1 <b>\n")
    assert "epoch 1 <b>" in details.get_widget_data()["run_logs"]
    with log.open("a") as f:
        f.write("epoch 2\n")
    tail = details.get_widget_data()["run_logs"]
    assert tail.count("epoch 1") == 1 and "epoch 2" in tail
    assert "epoch 1 &lt;b&gt;" in page_html(details.get_widget_data())
    run.complete()


def test_a_failed_run_shows_its_error_and_many_metrics_stay_small(experiment) -> None:  # type: ignore[no-untyped-def]
    from azuremlcore.widgets._render import MAX_CHARTS

    run = experiment.start_logging(outputs=False)
    for m in range(MAX_CHARTS + 5):
        run.log_list(f"m{m:03d}", [1, 2, 3])
    run.fail(error_details=ValueError("diverged at <step 3>"))
    html = page_html(RunDetails(run).get_widget_data())
    assert "Failed" in html and "diverged at &lt;step 3&gt;" in html
    assert html.count("<svg") == MAX_CHARTS and f"m{MAX_CHARTS + 4:03d}" in html and "(last of 3 values)" in html


def test_a_sweep_lists_its_newest_children(experiment, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    from azuremlcore.widgets import _run_data

    monkeypatch.setattr(_run_data, "MAX_CHILDREN", 3)
    run = experiment.start_logging(outputs=False)
    for i in range(5):
        child = run.child_run(name=f"t{i}")
        child.log("acc", i / 10)
        child.complete()
    data = RunDetails(run).get_widget_data()
    assert [c["name"] for c in data["child_runs"]] == ["t4", "t3", "t2"] and data["child_run_count"] == 5
    assert data["child_runs"][0]["metrics"] == {"acc": 0.4}
    assert "The newest 3 of 5 child runs." in page_html(data)


def test_not_a_run_is_refused() -> None:
    from azuremlcore.exceptions import UserErrorException

    with pytest.raises(UserErrorException, match="RunDetails needs a Run"):
        RunDetails("run-id")


# ---------------------------------------------------------------------------------------------- showing
def test_outside_a_kernel_show_prints_a_summary(experiment, capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    run = _finished_run(experiment)
    RunDetails(run).show()
    out = capsys.readouterr().out
    assert f"Run {run.id}" in out and "Completed" in out and "loss: 0.0333333 (30 values)" in out
    assert "child trial-1: Completed" in out
    import IPython

    monkeypatch.setattr(IPython, "get_ipython", lambda: object())  # IPython in a terminal: no kernel, no widgets
    RunDetails(run).show()
    assert f"Run {run.id}" in capsys.readouterr().out


def test_without_ipywidgets_a_static_html_snapshot(experiment, shown: Displayed,  # type: ignore[no-untyped-def]
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ipywidgets", None)  # import ipywidgets now raises ImportError
    run = experiment.start_logging(outputs=False)
    run.log("loss", 1.0)
    RunDetails(run).show()
    [obj] = shown.objects
    html = obj._repr_html_()
    assert "Running" in html and "loss" in html and "amlcore-open[notebook]" in html
    run.complete()


def test_live_widget_refreshes_until_the_run_ends(experiment, shown: Displayed) -> None:  # type: ignore[no-untyped-def]
    run = experiment.start_logging(outputs=False)
    run.log("loss", 1.0)
    details = RunDetails(run)
    details.show()
    [view] = shown.objects
    bundle = view._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle and "Running" in bundle["text/html"]
    assert "Running" in view.header.value
    refresher = details._refresher
    assert refresher is not None and refresher.is_alive()
    for i in range(2, 6):
        run.log("loss", 1.0 / i)
    run.complete()
    refresher.join(timeout=60)
    assert not refresher.is_alive()
    assert "Completed" in view.header.value
    assert "last: 0.2 (5 values)" in view.metrics.value
    assert shown.updates == [view] and "Completed" in view._repr_mimebundle_()["text/html"]


def test_a_finished_run_starts_no_refresher_and_stop_ends_one(experiment, shown: Displayed) -> None:  # type: ignore[no-untyped-def]
    details = RunDetails(_finished_run(experiment))
    details.show()
    assert details._refresher is None
    running = RunDetails(experiment.start_logging(outputs=False))
    running.show()
    first = running._refresher
    running.show()  # showing again replaces this object's refresher
    assert first is not None and not first.is_alive() and running._refresher is not first
    second = running._refresher
    running.stop()
    assert second is not None and not second.is_alive() and running._refresher is None


def test_the_end_of_a_cell_catches_up(experiment, shown: Displayed,  # type: ignore[no-untyped-def]
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(run_details, "MIN_INTERVAL_S", 600)  # the thread stays asleep: only the hook refreshes
    run = experiment.start_logging(outputs=False)
    details = RunDetails(run)
    details.show()
    [view] = shown.objects
    run.log("loss", 3.0)
    run.complete()
    run_details._catch_up_after_cell(None)  # what IPython's post_run_cell event calls
    assert "Completed" in view.header.value and "loss" in view.metrics.value
    assert shown.updates == [view]
    details._refresher.join(timeout=60)
    assert not details._refresher.is_alive() and not list(run_details._LIVE)


def test_a_failing_refresh_is_shown_and_retried(experiment, shown: Displayed,  # type: ignore[no-untyped-def]
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    run = experiment.start_logging(outputs=False)
    details = RunDetails(run)
    details.show()
    [view] = shown.objects
    real = details.get_widget_data
    failures = iter([ConnectionError("server went away")])

    def flaky(settings: Any = None) -> dict[str, Any]:
        for exc in failures:
            raise exc
        return real(settings)

    monkeypatch.setattr(details, "get_widget_data", flaky)
    seen_note = []
    monkeypatch.setattr(view, "update", _spy(view.update, seen_note))
    run.complete()
    details._refresher.join(timeout=60)
    assert any("server went away" in note for note in seen_note)
    assert "Completed" in view.header.value and "server went away" not in view.header.value


def _spy(update: Any, notes: list[str]) -> Any:
    def spying(data: dict[str, Any], note: str = "") -> None:
        notes.append(note)
        update(data, note)
    return spying


def test_widget_on_a_server_workspace(live_server, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]  # noqa: F811
                                      shown: Displayed) -> None:
    from azuremlcore import Experiment, Workspace

    monkeypatch.setenv("AZUREMLCORE_ENDPOINT", live_server.url)
    monkeypatch.setenv("AZUREMLCORE_TOKEN", live_server.token())
    ws = Workspace.create("srvws", subscription_id="s1", resource_group="rg", show_output=False)
    run = Experiment(ws, "e").start_logging(outputs=False)
    run.log("loss", 2.0)
    details = RunDetails(run)
    details.show()
    [view] = shown.objects
    run.log("loss", 1.0)
    run.child_run(name="c1").complete()
    run.complete()
    details._refresher.join(timeout=60)
    data = details.get_widget_data()
    assert data["workbench_run_details_uri"].startswith(live_server.url + "/ui/")
    assert data["child_runs"][0]["name"] == "c1"
    assert "Completed" in view.header.value and "(2 values)" in view.metrics.value
    assert live_server.url in run._repr_html_()
    assert live_server.url in ws._repr_html_()


# ---------------------------------------------------------------------------------------------- tables
def test_html_reprs_name_their_objects_and_link_their_pages(workspace, experiment, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from azuremlcore import Environment, Model

    run = _finished_run(experiment)
    html = workspace._repr_html_()
    assert "<th>Resource group</th>" in html and "<td>ws1</td>" in html and "<td>rg</td>" in html
    html = experiment._repr_html_()
    assert "<th>Report Page</th>" in html and "<td>exp</td>" in html
    assert f'href="{experiment.get_portal_url()}"' in html
    html = run._repr_html_()
    for header in ("Experiment", "Id", "Type", "Status", "Details Page", "Docs Page"):
        assert f"<th>{header}</th>" in html
    assert f"<td>{run.id}</td>" in html and "<td>Completed</td>" in html
    assert f'href="{run.get_portal_url()}"' in html
    (tmp_path / "model.pkl").write_bytes(b"m")
    model = Model.register(workspace, model_path=str(tmp_path / "model.pkl"), model_name="m1")
    html = model._repr_html_()
    assert "<td>m1</td>" in html and "<td>1</td>" in html and "Link to model</a>" in html
    html = Environment('<img src=x onerror="alert(1)">')._repr_html_()
    assert "<img" not in html and "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html


# ---------------------------------------------------------------------------------------------- imports
def test_azureml_widgets_alias_and_lazy_imports() -> None:
    code = textwrap.dedent("""
        import sys
        import azuremlcore
        assert "ipywidgets" not in sys.modules and "azuremlcore.widgets" not in sys.modules
        azuremlcore.install_as_azureml()
        from azureml.widgets import RunDetails
        import azuremlcore.widgets
        assert RunDetails is azuremlcore.widgets.RunDetails
        assert "ipywidgets" not in sys.modules, "ipywidgets is imported only when a widget is shown"
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
