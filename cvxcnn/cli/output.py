"""Output paths of the command line: checked up front, written atomically.

Every output (``--out``, ``--save-weights``, ``--plot``, ``--log``, output
folders) is checked by :func:`check_output_file` / :func:`check_output_dir`
before any expensive work, and written through :class:`Outputs`: each file
goes to a hidden temporary name in its own folder and is renamed into place
only when the command finishes, so an error or Ctrl-C leaves no partial file.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from cvxcnn.cli.errors import UsageError
from cvxcnn.results import json_ready as to_json_ready

JSON_SUFFIXES = (".json",)
WEIGHTS_SUFFIXES = (".npz",)
FIGURE_SUFFIXES = (".png", ".pdf", ".svg")


def _check_parent(path: Path, flag: str) -> None:
    parent = path.parent
    if not parent.exists():
        raise UsageError(
            flag, f"folder {parent} does not exist; create it first (mkdir -p {parent})"
        )
    if not parent.is_dir():
        raise UsageError(flag, f"{parent} is not a folder; pass a path inside an existing folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(flag, f"folder {parent} is not writable; pick a writable location")


def check_output_file(path: Path | None, flag: str, suffixes: tuple[str, ...] = ()) -> None:
    """Refuse an output file that cannot be written, before any work is done.

    Parameters
    ----------
    path : Path or None
        None: nothing to check.
    flag : str
        The flag named in the message, e.g. ``"--out"``.
    suffixes : tuple of str
        Accepted suffixes (lower case); empty accepts any name.

    Raises
    ------
    UsageError
        A directory, a missing or read-only parent folder, a read-only file or
        a wrong suffix (never appended silently).
    """
    if path is None:
        return
    if path.is_dir():
        example = path / ("result" + (suffixes[0] if suffixes else ".json"))
        raise UsageError(flag, f"{path} is a folder; pass a file name such as {example}")
    if suffixes and path.suffix.lower() not in suffixes:
        raise UsageError(
            flag,
            f"{path} must end in {' or '.join(suffixes)} (no suffix is appended); "
            f"pass e.g. {path.with_name(path.stem + suffixes[0])}",
        )
    _check_parent(path, flag)
    if path.exists() and not os.access(path, os.W_OK):
        raise UsageError(flag, f"{path} exists and is read-only; remove it or pick another name")


def check_output_dir(path: Path, flag: str) -> None:
    """Refuse an output folder that is a file or cannot be created or written."""
    if path.exists():
        if not path.is_dir():
            raise UsageError(flag, f"{path} is a file, not a folder; pass a folder path")
        if not os.access(path, os.W_OK | os.X_OK):
            raise UsageError(flag, f"folder {path} is not writable; pick a writable location")
        return
    _check_parent(path, flag)


def check_distinct(paths: dict[str, Path | None]) -> None:
    """Refuse two output flags naming the same file."""
    seen: dict[Path, str] = {}
    for flag, path in paths.items():
        if path is None:
            continue
        key = path.resolve()
        if key in seen:
            raise UsageError(flag, f"{path} is also given to {seen[key]}; use two different files")
        seen[key] = flag


def json_ready(obj: object) -> object:
    """:func:`cvxcnn.results.json_ready` writing infinities as ``"inf"``/``"-inf"``."""
    return to_json_ready(obj, infinity="text")


def json_text(payload: dict) -> str:
    """``payload`` (:func:`json_ready`) as indented JSON text, newline-terminated."""
    return json.dumps(json_ready(payload), indent=2) + "\n"


class Outputs:
    """Files of one command, staged under temporary names and committed together.

    ``stage(path)`` returns a hidden temporary path next to ``path`` (same
    suffix, so writers that infer a format or append one behave); ``commit``
    renames every staged file into place; ``discard`` (also on any error)
    removes them.
    """

    def __init__(self) -> None:
        self.staged: list[tuple[Path, Path]] = []
        self.staged_dirs: list[tuple[Path, Path]] = []

    def stage(self, path: Path) -> Path:
        """A temporary path to write ``path``'s content to."""
        tmp = path.with_name(f".{path.stem}.cvxcnn-{os.getpid()}-{len(self.staged)}{path.suffix}")
        self.staged.append((tmp, path))
        return tmp

    def write(self, path: Path, writer: Callable[[Path], object]) -> None:
        """Stage ``path`` and call ``writer(temporary_path)``."""
        writer(self.stage(path))

    def write_json(self, path: Path, payload: dict) -> None:
        """Stage ``payload`` as indented JSON for ``path``."""
        text = json_text(payload)
        self.write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))

    def stage_dir(self, path: Path) -> Path:
        """A temporary folder whose files are moved into ``path`` on commit."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.cvxcnn-", dir=path.parent))
        self.staged_dirs.append((tmp, path))
        return tmp

    def commit(self) -> list[Path]:
        """Move every staged file into place; returns the final paths."""
        done = []
        for tmp, final in self.staged:
            if tmp.exists():
                os.replace(tmp, final)
                done.append(final)
        for tmp, final in self.staged_dirs:
            final.mkdir(parents=True, exist_ok=True)
            for item in sorted(tmp.iterdir()):
                os.replace(item, final / item.name)
                done.append(final / item.name)
            shutil.rmtree(tmp, ignore_errors=True)
        self.staged, self.staged_dirs = [], []
        return done

    def discard(self) -> None:
        """Remove every staged file and folder."""
        for tmp, _ in self.staged:
            tmp.unlink(missing_ok=True)
        for tmp, _ in self.staged_dirs:
            shutil.rmtree(tmp, ignore_errors=True)
        self.staged, self.staged_dirs = [], []
