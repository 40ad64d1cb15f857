"""``train --report DIR`` into places it cannot or must not write: a file where the directory should be, a
directory under a file, a FIFO or a link where a page of the report goes. One ``error:`` line naming the
report, status 1, no artifact written, nothing written through, nothing left blocking."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from model.sdk import cli
from model.train import command
from model.train.card import CARD_NAME, FIT_PLOT

pytest.importorskip("matplotlib")


@pytest.fixture(autouse=True)
def never_blocks() -> Iterator[None]:
    """A write that opened a FIFO would wait for a reader for ever: failed in 20 s instead."""

    def stuck(_signum: int, _frame: object) -> None:
        raise AssertionError("blocked: a write opened a FIFO")

    previous = signal.signal(signal.SIGALRM, stuck)
    signal.alarm(20)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def train(capsys: pytest.CaptureFixture[str], out: Path, report: Path) -> tuple[int, str, str]:
    code = cli.main(["train", "--out", str(out), "--report", str(report)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize("under", ["", "sub"])
def test_a_report_where_a_file_is_is_one_error_line_and_no_artifact(tmp_path: Path, capsys, under: str):
    blocker = tmp_path / "report"
    blocker.write_text("a file, not a directory\n")
    report = blocker / under if under else blocker
    code, out, err = train(capsys, tmp_path / "model.json", report)
    assert code == command.EXIT_DATA_ERROR
    assert err.startswith(f"error: cannot write the report into {report}: ")
    assert len(err.splitlines()) == 1
    assert "wrote" not in out
    assert not (tmp_path / "model.json").exists()
    assert blocker.read_text() == "a file, not a directory\n"


@pytest.mark.parametrize("page", [CARD_NAME, FIT_PLOT])
def test_a_page_of_the_report_is_never_written_through_a_fifo_or_a_link(tmp_path: Path, capsys, page: str):
    report = tmp_path / "report"
    report.mkdir()
    os.mkfifo(report / page)
    code, _, err = train(capsys, tmp_path / "model.json", report)
    assert code == command.EXIT_DATA_ERROR
    assert f"{page}: it exists and is not a regular file" in err
    assert err.startswith("error: cannot write the report")
    (report / page).unlink()
    target = tmp_path / "elsewhere"
    target.write_text("kept\n")
    (report / page).symlink_to(target)
    code, _, err = train(capsys, tmp_path / "model.json", report)
    assert code == command.EXIT_DATA_ERROR
    assert target.read_text() == "kept\n"
    assert [p.name for p in report.iterdir() if p.name.endswith(".tmp")] == []
