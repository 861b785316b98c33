"""The sha256 manifest of every committed data file (datasets/SHA256SUMS).

One line per file, in the format `sha256sum` writes and `sha256sum --check` reads:
`<64 hex digits>  <path relative to datasets/>`. Loaders verify a file against it before reading,
so a corrupt or edited file is named instead of silently training on something else.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from datasets.errors import DatasetError

ROOT = Path(__file__).resolve().parent
MANIFEST = ROOT / "SHA256SUMS"


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(manifest: Path = MANIFEST) -> dict[str, str]:
    """{relative path: sha256} from a manifest file; a malformed line is an error naming the line."""
    entries = {}
    for number, line in enumerate(Path(manifest).read_text(encoding="utf-8").splitlines(), start=1):
        digest, separator, name = line.partition("  ")
        if not separator or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest) or not name:
            raise DatasetError(f"{manifest}:{number}: expected '<64 hex digits>  <path>', got {line!r}")
        entries[name] = digest
    return entries


def record(paths: list[Path], root: Path = ROOT, manifest: Path = MANIFEST) -> None:
    """Add or update the entries of `paths` (files under root) in the manifest."""
    entries = read_manifest(manifest) if manifest.is_file() else {}
    for path in paths:
        entries[Path(path).resolve().relative_to(root.resolve()).as_posix()] = sha256_of(path)
    lines = [f"{digest}  {name}" for name, digest in sorted(entries.items())]
    manifest.write_text("\n".join(lines) + "\n", encoding="utf-8")


def verify(path: Path, root: Path = ROOT, manifest: Path = MANIFEST) -> Path:
    """The path, once its bytes match the manifest; else DatasetError naming the file and both digests."""
    path = Path(path)
    name = path.resolve().relative_to(root.resolve()).as_posix()
    expected = read_manifest(manifest).get(name)
    if expected is None:
        raise DatasetError(f"{path}: not listed in {manifest.name}, so it cannot be verified")
    if not path.is_file():
        raise DatasetError(f"{path}: missing (it is listed in {manifest.name}; restore it from the repository)")
    actual = sha256_of(path)
    if actual != expected:
        raise DatasetError(f"{path}: corrupt or edited: sha256 {actual}, expected {expected} ({manifest.name})")
    return path
