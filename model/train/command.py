"""The ``train`` command: ``diabetes-progression train`` and ``python -m model.train`` are this one command,
parsed by the one parser of :mod:`model.sdk.cli`. Importing it needs no numpy (``--help`` and the options'
checks work without the ``train`` extra); :func:`run` imports the trainer. Gate thresholds can be made
stricter than the serving policy, never looser: the function would refuse the artifact."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Final

from ..core.artifact import (
    DEFAULT_ARTIFACT_PATH,
    DEFAULT_MAX_CONVERGENCE_GAP,
    DEFAULT_MAX_COVERAGE_ERROR,
    DEFAULT_MIN_R2,
    INTERVAL_LEVEL,
    ArtifactError,
    ModelArtifact,
)
from .artifact_file import write_atomically

if TYPE_CHECKING:
    from .pipeline import TrainingOutcome

EXIT_DATA_ERROR: Final = 1
EXIT_GATE_FAILED: Final = 3
EPILOG: Final = (
    "exit status: 0 artifact written; 1 bad data or unwritable output; 2 bad arguments; 3 a gate failed"
)
MISSING_DATA_HINT: Final = (
    "the training data is not installed with the package: pass --data DIR, the model/data directory of a "
    "checkout of the source repository (or run `python -m model.train` in that checkout)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seed", type=seed, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--data",
        type=Path,
        metavar="DIR",
        help="the directory holding the data set's two .csv.gz files (default: model/data of a checkout)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        # In a checkout (its data set beside the package), the artifact the function and the build take;
        # installed, never the model bundled inside the package.
        default=DEFAULT_ARTIFACT_PATH
        if (DEFAULT_ARTIFACT_PATH.parents[1] / "data").is_dir()
        else Path("model.json"),
        metavar="PATH",
        help="where to write the artifact, a regular file (default: %(default)s)",
    )
    parser.add_argument(
        "--report",
        type=_report_dir,
        metavar="DIR",
        help="write model_card.md and plots here (needs matplotlib)",
    )
    parser.add_argument(
        "--min-r2",
        type=_stricter(DEFAULT_MIN_R2, at_least=True),
        default=DEFAULT_MIN_R2,
        help=f"quality gate: minimum hold-out R² (default {DEFAULT_MIN_R2})",
    )
    parser.add_argument(
        "--max-convergence-gap",
        type=_stricter(DEFAULT_MAX_CONVERGENCE_GAP, at_least=False),
        default=DEFAULT_MAX_CONVERGENCE_GAP,
        help="convergence gate: max relative training-MSE gap to least squares "
        f"(default {DEFAULT_MAX_CONVERGENCE_GAP:g})",
    )
    parser.add_argument(
        "--max-coverage-error",
        type=_stricter(DEFAULT_MAX_COVERAGE_ERROR, at_least=False),
        default=DEFAULT_MAX_COVERAGE_ERROR,
        help=f"calibration gates: how far the {INTERVAL_LEVEL * 100:.0f}%% interval's cross-validated "
        f"coverage of every group may fall below {INTERVAL_LEVEL:g}, or rise above what its ranks promise "
        f"(default {DEFAULT_MAX_COVERAGE_ERROR:g})",
    )


def run(args: argparse.Namespace) -> int:
    """Trains, gates and writes as ``args`` say (numpy: raises ImportError without the ``train`` extra)."""
    from ..core.serving import parse_artifact
    from . import dataset, pipeline

    config = pipeline.TrainingConfig(
        seed=args.seed,
        min_r2=args.min_r2,
        max_convergence_gap=args.max_convergence_gap,
        max_coverage_error=args.max_coverage_error,
    )
    data = args.data or dataset.DATA_DIR
    try:
        outcome = pipeline.train(config, dataset.load_dataset(data))
    except dataset.DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        if not data.is_dir():
            print(MISSING_DATA_HINT, file=sys.stderr)
        return EXIT_DATA_ERROR
    if args.report is not None and not _reported(outcome, args.report):
        return EXIT_DATA_ERROR
    failed = outcome.artifact.failed_gates()
    if failed:
        print(f"gate failed, no artifact written: {failed[0].describe()}", file=sys.stderr)
        return EXIT_GATE_FAILED
    text = outcome.artifact.to_json()
    try:  # the function's own reading, the last gate: the bytes it accepts are the bytes written
        parse_artifact(text)
    except ArtifactError as exc:
        print(f"gate failed, no artifact written: the function would refuse it: {exc}", file=sys.stderr)
        return EXIT_GATE_FAILED
    try:
        write_atomically(args.out, text.encode("utf-8"))
    except OSError as exc:
        print(f"error: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_DATA_ERROR
    print(summary(outcome.artifact))
    print(f"wrote {args.out}")
    return 0


def _reported(outcome: TrainingOutcome, directory: Path) -> bool:
    """Writes the report and says so; or says, as train's own line, why it cannot (not cli.main's "cannot
    write the output", which is about standard output), and writes no artifact."""
    from .card import write_report  # matplotlib is slow to import: only when asked

    try:
        written = write_report(outcome, directory)
    except OSError as exc:
        page = f"{Path(exc.filename).name}: " if exc.filename and Path(exc.filename) != directory else ""
        said = f"cannot write the report into {directory}: {page}{exc.strerror or exc}"
        print(f"error: {said}", file=sys.stderr)
        return False
    print("\n".join(f"wrote {path}" for path in written))
    return True


def summary(artifact: ModelArtifact) -> str:
    """What a training run prints about the artifact it wrote."""
    m, interval, c = artifact.metrics, artifact.interval, artifact.coefficients
    epochs = artifact.training.epochs_run
    figures = ", ".join(
        f"{name} {m.estimates[name].value:.4f}" for name in ("holdout_r2", "cv_r2", "cv_rmse")
    )
    halves = ", ".join(f"{band.half_width:.0f}" for band in interval.bands)
    return "\n".join([
        f"model {artifact.model_version}: y = {c.slope:.6f} * bmi {c.intercept:+.6f}  ({epochs} epochs)",
        f"{figures} (95% CIs in the artifact); {interval.level:.0%} interval ({interval.method}):",
        f"half-widths {halves} in bands cut at {list(interval.edges)} kg/m², coverage "
        f"{interval.overall.coverage:.3f} (nested CV), {interval.holdout_coverage:.2f} (hold-out)",
        *(gate.describe() for gate in m.gates),
    ])  # fmt: skip


def exit_on_termination(signum: int, _frame: object) -> None:
    # SystemExit unwinds through write_atomically, which removes its temporary file: a run stopped
    # by `kill` or a closed terminal leaves nothing beside the artifact (SIGKILL cannot be caught).
    sys.exit(128 + signum)


def _stricter(policy: float, *, at_least: bool) -> Callable[[str], float]:
    """An argument type for a gate threshold: as strict as the serving policy or stricter, never looser
    (a higher minimum up to 1, or a smaller positive maximum)."""

    def threshold(text: str) -> float:
        value = float(text)
        if not (policy <= value <= 1.0 if at_least else 0.0 < value <= policy):
            shown = f"[{policy:g}, 1]" if at_least else f"(0, {policy:g}]"
            raise argparse.ArgumentTypeError(
                f"must be in {shown} (stricter than the serving policy), got {text}"
            )
        return value

    return threshold


def seed(text: str) -> int:  # its name is argparse's "invalid seed value"
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text}")
    return value


def _report_dir(text: str) -> Path:
    if importlib.util.find_spec("matplotlib") is None:
        raise argparse.ArgumentTypeError("needs matplotlib: pip install 'diabetes-progression[report]'")
    return Path(text)
