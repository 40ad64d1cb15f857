from pathlib import Path

from model import train as train_module
from model.dataset import load_dataset
from model.report import CARD_NAME, FIT_PLOT, LOSS_PLOT, render_card
from model.train import TrainingConfig, train
from scripts import REPO_ROOT

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_report_writes_the_card_and_two_plots(tmp_path: Path):
    assert (
        train_module.main(["--out", str(tmp_path / "model.json"), "--report", str(tmp_path / "report")]) == 0
    )
    card = (tmp_path / "report" / CARD_NAME).read_text()
    assert "hold-out R²" in card
    assert "Honest limits" in card
    for plot in (FIT_PLOT, LOSS_PLOT):
        assert plot in card
        assert (tmp_path / "report" / plot).read_bytes().startswith(PNG_MAGIC)


def test_report_is_written_even_when_a_gate_fails_so_the_failure_can_be_inspected(tmp_path: Path):
    args = ["--min-r2", "0.9", "--out", str(tmp_path / "m.json"), "--report", str(tmp_path / "r")]
    assert train_module.main(args) == train_module.EXIT_GATE_FAILED
    assert "**FAIL**" in (tmp_path / "r" / CARD_NAME).read_text()
    assert not (tmp_path / "m.json").exists()


def test_committed_model_card_is_the_default_run():
    # docs/model_card.md comes from `python -m model.train --report docs`; it must not drift from the code.
    dataset = load_dataset()
    expected = render_card(train(TrainingConfig(), dataset).artifact, dataset)
    assert (REPO_ROOT / "docs" / CARD_NAME).read_text() == expected
