import re
from pathlib import Path

import numpy as np
import pytest

from model.core import prediction
from model.core.artifact import INTERVAL_LEVEL
from model.sdk import cli
from model.train import card, command
from model.train.card import CALIBRATION_PLOT, CARD_NAME, FIT_PLOT, LOSS_PLOT, render_card, write_report
from model.train.dataset import load_dataset
from model.train.pipeline import TrainingConfig, TrainingOutcome, train
from model.train.tables import MIN_SUBGROUP, subgroups, wilson
from scripts import REPO_ROOT

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PLOTS = (FIT_PLOT, CALIBRATION_PLOT, LOSS_PLOT)


@pytest.fixture(scope="module")
def outcome() -> TrainingOutcome:
    return train(TrainingConfig(), load_dataset())


def test_report_writes_the_card_and_its_plots_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    args = ["--out", str(tmp_path / "model.json"), "--report", str(tmp_path / "report")]
    assert cli.main(["train", *args]) == 0
    card = (tmp_path / "report" / CARD_NAME).read_text()
    for plot in PLOTS:
        assert f"]({plot})" in card
        assert (tmp_path / "report" / plot).read_bytes().startswith(PNG_MAGIC)
    # Every file written is named, the artifact included
    wrote = {
        line.removeprefix("wrote ")
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("wrote ")
    }
    assert wrote == {str(tmp_path / "report" / name) for name in (CARD_NAME, *PLOTS)} | {
        str(tmp_path / "model.json")
    }


def test_the_plots_are_byte_identical_on_a_rerun(outcome: TrainingOutcome, tmp_path: Path):
    first, second = tmp_path / "a", tmp_path / "b"
    write_report(outcome, first)
    write_report(outcome, second)
    for name in (CARD_NAME, *PLOTS):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_the_card_opens_with_the_limits_and_speaks_in_the_outcome_s_units(outcome: TrainingOutcome):
    card = render_card(outcome)
    headings = [line for line in card.splitlines() if line.startswith("## ")]
    assert headings[0] == "## Limits: read these first"
    for limit in ("Not a diagnostic tool", "It cannot tell two patients apart", "One study", "Extrapolation"):
        assert f"**{limit}.**" in card.split(headings[1])[0]
    # The API's example answer, as a reader should see it: whole units, the interval the API returns
    answer = prediction.respond(outcome.artifact, {"bmi": 27.3})[0]
    interval = answer["interval"]
    assert f"{answer['prediction']:.0f} [{interval['lower']}, {interval['upper']}]" in card
    cv_rmse = outcome.artifact.metrics.estimates["cv_rmse"]
    assert f"| typical error (root-mean-square), cross-validated | {cv_rmse.value:.0f} (95% CI " in card
    assert f"{outcome.artifact.interval.overall.coverage:.1%}" in card


def test_the_card_has_the_sections_a_clinician_acts_on(outcome: TrainingOutcome):
    card = render_card(outcome)
    headings = {line.lstrip("#").strip() for line in card.splitlines() if line.startswith("#")}
    assert {
        "Intended use",
        "Out of scope",
        "Model details",
        "What this data cannot answer",
        "Point calibration: observed against predicted",
        "Discrimination: can it rank patients?",
        f"Does the {INTERVAL_LEVEL:.0%} interval keep its promise?",
        "Appendix: training convergence",
    } <= headings
    # The loss curve is in the appendix, the last section; the fit plot spans every accepted BMI
    assert card.rindex(f"]({LOSS_PLOT})") > card.index("## Appendix")
    for group in outcome.artifact.interval.coverage:
        assert f"| {group.group} | {group.n} | {group.coverage:.1%} |" in card


def test_every_figure_with_an_interval_says_what_kind(outcome: TrainingOutcome):
    card = render_card(outcome)
    # No bare "±", and every confidence interval is named as such next to how it was computed
    assert "±" not in card
    assert card.count("95% CI") >= len(outcome.artifact.metrics.estimates)
    for kind in ("Nadeau–Bengio", "BCa bootstrap", "percentile bootstrap", "Wilson score interval"):
        assert kind in card, kind
    assert "fold-to-fold standard deviation" in card  # the spread is named as a spread, not an interval


def test_a_card_placeholder_for_an_interval_must_give_its_precision(
    outcome: TrainingOutcome, monkeypatch, tmp_path
):
    template = tmp_path / "card.md"
    template.write_text("R² {ci[holdout_r2]}", encoding="utf-8")
    monkeypatch.setattr(card, "TEMPLATE", template)
    with pytest.raises(ValueError, match="needs a format spec"):
        render_card(outcome)
    template.write_text("R² {ci[holdout_r2]:.2f}", encoding="utf-8")
    assert re.fullmatch(r"R² -?\d\.\d\d \(95% CI -?\d\.\d\d to -?\d\.\d\d\)", render_card(outcome))


def test_every_grouping_accounts_for_every_training_patient_once(outcome: TrainingOutcome):
    n_train = outcome.dataset.train.x.size
    for what, groups in subgroups(outcome.dataset):
        membership = np.sum([group.rows for group in groups], axis=0)
        assert membership.shape == (n_train,), what
        assert set(membership.tolist()) == {1}, what  # no patient in two bands, none in none


def test_groups_too_small_are_said_to_be_and_only_those(outcome: TrainingOutcome):
    card = render_card(outcome)
    for what, groups in subgroups(outcome.dataset):
        for group in groups:
            n = int(group.rows.sum())
            (row,) = [line for line in card.splitlines() if line.startswith(f"| {what} {group.name} |")]
            assert (n < MIN_SUBGROUP) is ("too small to say anything" in row), row
    assert any(
        group.rows.sum() < MIN_SUBGROUP for _, groups in subgroups(outcome.dataset) for group in groups
    )


@pytest.mark.parametrize(
    ("inside", "n", "expected"),
    # The worked examples of Newcombe (1998), "Two-sided confidence intervals for the single proportion",
    # Table I, Wilson score method
    [
        (81, 263, (0.2553, 0.3662)),
        (15, 148, (0.0624, 0.1605)),
        (0, 20, (0.0, 0.1611)),
        (1, 29, (0.0061, 0.1718)),
    ],
)
def test_the_plausible_range_is_the_wilson_score_interval(inside: int, n: int, expected: tuple[float, float]):
    assert wilson(inside, n) == pytest.approx(expected, abs=1e-4)


def test_report_is_written_even_when_a_gate_fails_so_the_failure_can_be_inspected(tmp_path: Path):
    args = ["--min-r2", "0.9", "--out", str(tmp_path / "m.json"), "--report", str(tmp_path / "r")]
    assert cli.main(["train", *args]) == command.EXIT_GATE_FAILED
    assert "**FAIL**" in (tmp_path / "r" / CARD_NAME).read_text()
    assert not (tmp_path / "m.json").exists()


def test_committed_model_card_is_the_default_run(outcome: TrainingOutcome):
    # docs/model_card.md comes from `python -m model.train --report docs`; it must not drift from the code.
    assert (REPO_ROOT / "docs" / CARD_NAME).read_text() == render_card(outcome)
