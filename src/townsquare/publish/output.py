"""A folder of built files: each rewritten only when its bytes change.

    OutputFolder.write(path, bytes)   writes a file only when its bytes changed
    OutputFolder.finish()             removes what the last build wrote and this one did not

A manifest (``.townsquare-files``) lists the files the last build wrote, so a
blog that was removed loses its files too, while files Townsquare did not
write are never touched.  Files are written through a temporary file and
renamed, so a reader (a web server) never sees half a file.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..errors import InputError

MANIFEST = ".townsquare-files"


@dataclass(frozen=True, slots=True)
class BuildReport:
    written: int  # files new or changed
    unchanged: int
    removed: int  # files of an earlier build this one no longer makes


class OutputFolder:
    """A folder of built files, rewritten only where the bytes differ."""

    def __init__(self, root: Path) -> None:
        self.root = root
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"cannot create the folder '{root}': {exc.strerror}") from None
        self._made: set[str] = set()
        self._written = self._unchanged = 0

    def write(self, path: str, body: bytes) -> None:
        """Put ``body`` at ``path`` (relative, with '/'), unless it is already there."""
        target = self._inside(path)
        if target is None:
            raise ValueError(f"not a path inside the site: {path!r}")
        self._made.add(path)
        try:
            if target.read_bytes() == body:
                self._unchanged += 1
                return
        except FileNotFoundError:
            pass
        self._save(target, body)
        self._written += 1

    def finish(self) -> BuildReport:
        """Remove the files the last build made and this one did not; save the manifest."""
        manifest = self.root / MANIFEST
        try:
            before = set(manifest.read_text(encoding="utf-8").split("\n")) - {""}
        except FileNotFoundError:
            before = set()
        removed = 0
        for path in sorted(before - self._made):
            target = self._inside(path)
            if target is None or not target.is_file():
                continue  # not ours to remove
            target.unlink()
            removed += 1
            for folder in target.parents:
                if folder == self.root or any(folder.iterdir()):
                    break
                folder.rmdir()
        if before != self._made:
            self._save(manifest, "".join(f"{p}\n" for p in sorted(self._made)).encode("utf-8"))
        return BuildReport(self._written, self._unchanged, removed)

    def _inside(self, path: str) -> Path | None:
        """Where a relative path with '/' lands in the folder; None if it would leave it."""
        relative = PurePosixPath(path)
        if relative.is_absolute() or ".." in relative.parts or not relative.parts:
            return None
        return self.root.joinpath(*relative.parts)

    def _save(self, target: Path, body: bytes) -> None:
        """Write through a temporary file, so a reader never sees half a file."""
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(body)
                os.chmod(temp, 0o644)
                os.replace(temp, target)
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise InputError(f"cannot write '{target}': {exc.strerror}") from None
