"""Writing an artifact (and the report's pages): only the trainer does (the function only reads one), so
this lives beside the ``train`` command, not in the image's core."""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import stat
from pathlib import Path

from ..core.artifact import ModelArtifact


def write_artifact_atomically(artifact: ModelArtifact, path: Path) -> None:
    write_atomically(path, artifact.to_json().encode("utf-8"))


def write_atomically(path: Path, content: bytes) -> None:
    """Writes ``content`` (the artifact, a page of the report) so that readers see either the previous file
    or the complete new one: only ever a regular file (a device node, a FIFO or a link at ``path`` is
    refused, never written through or replaced). The temporary files of runs that died before they could
    remove their own go first."""
    import tempfile  # every command of the CLI imports this module, only train writes: not at its start

    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISREG(os.lstat(path).st_mode):
            raise OSError(errno.EEXIST, "it exists and is not a regular file: not replaced", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
        pid = stale.name[len(path.name) + 2 :].partition(".")[0]
        if pid.isdigit() and len(pid) < 10 and not _alive(int(pid)):
            stale.unlink(missing_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates 0600 files; the image copies the file with its mode, and Lambda runs container
        # images as a non-root user, which must be able to read the model. Nothing in it is secret.
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as tmp:
            tmp.write(content)
            tmp.flush()
            os.fsync(tmp.fileno())
        Path(tmp_name).replace(path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # no signal: only whether the process exists (PermissionError: another user's)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
