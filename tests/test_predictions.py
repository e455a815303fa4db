"""The prediction registry behind the book's scorecard (lm_sims.predictions): every
entry passes, failures are rows and not exceptions, and every entry points at a page
and a test that exist."""

import ast
import math
import re
from pathlib import Path

import pytest

from lm_sims import predictions

ROOT = Path(__file__).resolve().parents[1]
IDS = [p.id for p in predictions.PREDICTIONS]


def _function_def(node_id: str) -> ast.FunctionDef | None:
    file, _, name = node_id.partition("::")
    path = ROOT / file
    if not path.exists():
        return None
    function = name.split("[", 1)[0]
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.FunctionDef) and node.name == function:
            return node
    return None


def _is_statistical(node_id: str) -> bool:
    """Whether the named test carries @pytest.mark.statistical."""
    node = _function_def(node_id)
    return node is not None and any(
        "mark.statistical" in ast.unparse(d) for d in node.decorator_list
    )


# an entry runs in the statistical tier when the test it names does (the long
# many-trial and width-scan checks); the rest take a few CPU seconds or less
SLOW = {p.id for p in predictions.PREDICTIONS if _is_statistical(p.test)}


def _param(i):
    marks = [pytest.mark.statistical] if i in SLOW else []
    return pytest.param(i, marks=marks, id=i)


@pytest.mark.parametrize("prediction_id", [_param(i) for i in IDS])
def test_every_prediction_passes(prediction_id):
    r = predictions.run(prediction_id)
    assert r.passed, r
    assert r.id == prediction_id and r.seconds >= 0
    assert math.isfinite(r.error) and r.error >= 0, r
    for value in (r.theory, r.simulated):
        assert isinstance(value, str) or math.isfinite(value), r


def test_the_statistical_marks_are_read():
    # the tier split is not vacuous: both tiers hold entries
    assert "eos-sharpness-edge" in SLOW and "saxe-euler-order" not in SLOW
    assert not _is_statistical("tests/test_deep_linear.py::test_no_such_test")


def test_ids_are_unique_and_well_formed():
    assert len(IDS) == len(set(IDS)) >= 15
    for i in IDS:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", i), i


def test_every_section_has_a_prediction():
    pages = {
        str(p.relative_to(ROOT).with_suffix("")) for p in ROOT.glob("chapters/0*/0*.md")
    }
    assert len(pages) >= 15, pages  # the book has 16 sections
    covered = {p.section for p in predictions.PREDICTIONS}
    assert pages <= covered, sorted(pages - covered)


def _check_node_id(node_id: str):
    file, _, name = node_id.partition("::")
    assert file.startswith("tests/test_") and (ROOT / file).exists(), node_id
    assert name.startswith("test_") and _function_def(node_id) is not None, node_id


@pytest.mark.parametrize(
    "entry", list(predictions.PREDICTIONS) + list(predictions.LEFT_OUT)
)
def test_every_entry_names_an_existing_page_and_test(entry):
    assert (ROOT / f"{entry.section}.md").exists(), entry.section
    _check_node_id(entry.test)


def test_registry_entries_are_described():
    for p in predictions.PREDICTIONS:
        assert p.title and p.statement and p.tolerance and p.why, p.id
        assert len(p.statement) <= 90, p.id  # one line on the page
        assert callable(p.compute), p.id
        # the title is the section's: its words appear in the page's heading
        heading = next(
            line
            for line in (ROOT / f"{p.section}.md").read_text().splitlines()
            if line.startswith("# ")
        )
        assert p.title.split(":")[0].replace("muP", "P") in heading, (p.id, heading)


def test_node_id_check_can_fail():
    with pytest.raises(AssertionError):
        _check_node_id("tests/test_deep_linear.py::test_does_not_exist")
    with pytest.raises(AssertionError):
        _check_node_id("tests/test_nowhere.py::test_x")


@pytest.mark.parametrize("bad", ["no-such-prediction", "", "Saxe-Euler-Order"])
def test_unknown_id_raises_naming_it_and_the_valid_ids(bad):
    with pytest.raises(ValueError, match="prediction_id must be one of") as info:
        predictions.run(bad)
    assert repr(bad) in str(info.value) and "saxe-euler-order" in str(info.value)
    with pytest.raises(ValueError, match=re.escape(repr(bad))):
        predictions.scorecard([bad])


def test_bad_argument_types_raise():
    with pytest.raises(TypeError, match="prediction_id must be a string"):
        predictions.run(3)
    with pytest.raises(TypeError, match="ids must be a list or tuple"):
        predictions.scorecard("zipf-exponent")
    with pytest.raises(TypeError, match="ids entries must be a string"):
        predictions.scorecard([None])
    with pytest.raises(ValueError, match="ids must name at least one"):
        predictions.scorecard([])
    with pytest.raises(ValueError, match="must not repeat"):
        predictions.scorecard(["zipf-exponent", "zipf-exponent"])


def _swap_compute(monkeypatch, prediction_id, compute):
    entries = list(predictions.PREDICTIONS)
    i = IDS.index(prediction_id)
    entries[i] = entries[i]._replace(compute=compute)
    monkeypatch.setattr(predictions, "PREDICTIONS", tuple(entries))
    monkeypatch.setattr(predictions, "_BY_ID", {p.id: p for p in entries})


def test_a_failing_prediction_is_a_failed_row_not_an_exception(monkeypatch):
    _swap_compute(
        monkeypatch,
        "zipf-exponent",
        lambda: predictions.Outcome(1.0, 1.7, 0.7, False, "made to fail"),
    )
    (r,) = predictions.scorecard(["zipf-exponent"])
    assert r.passed is False and r.simulated == 1.7 and r.note == "made to fail"


def test_a_raising_or_non_finite_computation_is_a_failed_row(monkeypatch):
    def boom():
        raise RuntimeError("solver blew up")

    _swap_compute(monkeypatch, "zipf-exponent", boom)
    r = predictions.run("zipf-exponent")
    assert r.passed is False and math.isnan(r.error)
    assert "RuntimeError: solver blew up" in r.note
    _swap_compute(
        monkeypatch,
        "zipf-exponent",
        lambda: predictions.Outcome(1.0, float("nan"), float("nan"), True),
    )
    r = predictions.run("zipf-exponent")
    assert r.passed is False and "non-finite" in r.note
    # the other rows are unaffected, in the requested order
    rows = predictions.scorecard(["central-flow-edge", "zipf-exponent"])
    assert [x.id for x in rows] == ["central-flow-edge", "zipf-exponent"]
    assert [x.passed for x in rows] == [True, False]


def test_left_out_predictions_are_not_in_the_registry():
    statements = {p.statement for p in predictions.PREDICTIONS}
    for o in predictions.LEFT_OUT:
        assert o.reason and o.statement not in statements


def test_default_scorecard_is_the_registry_less_the_left_out_entries(monkeypatch):
    cheap = lambda: predictions.Outcome(0.0, 0.0, 0.0, True)  # noqa: E731
    entries = tuple(p._replace(compute=cheap) for p in predictions.PREDICTIONS)
    monkeypatch.setattr(predictions, "PREDICTIONS", entries)
    monkeypatch.setattr(predictions, "_BY_ID", {p.id: p for p in entries})
    rows = predictions.scorecard()
    expected = [p.id for p in entries if not p.left_out]
    assert [r.id for r in rows] == expected
    assert 15 <= len(expected) < len(entries)  # some are left out, most are not
    assert {p.section for p in entries if not p.left_out} >= {
        str(p.relative_to(ROOT).with_suffix("")) for p in ROOT.glob("chapters/0*/0*.md")
    }  # every section still has a row on the page
    # a left-out entry is still computed on demand
    left = next(p.id for p in entries if p.left_out)
    assert predictions.run(left).passed
