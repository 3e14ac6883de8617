"""The WordPress plugin zip, built from plugin/ (deterministic: same files, same bytes, same ETag)."""

from __future__ import annotations

import hashlib
import io
import threading
import zipfile
from pathlib import Path

PLUGIN_DIR = Path(__file__).resolve().parent / "plugin"
# WordPress installs the zip's top-level folder as wp-content/plugins/<folder>; the main file is inside it.
PLUGIN_SLUG = "voltbridge-woocommerce"
MAIN_FILE = f"{PLUGIN_SLUG}.php"
# Zip entries carry no timestamps we do not choose: a rebuild of the same files gives the same bytes.
_FIXED_TIME = (2024, 1, 1, 0, 0, 0)
_SHIPPED = (".php", ".txt", ".js", ".svg", ".pot")  # code, readme, the blocks script, its icon, translations

_lock = threading.Lock()
_cached: tuple[tuple[tuple[str, int, int], ...], bytes] | None = None


def _files(root: Path) -> list[Path]:
    return sorted((p for p in root.rglob("*") if p.is_file() and p.suffix in _SHIPPED),
                  key=lambda p: p.relative_to(root).as_posix())


def build_zip(root: Path = PLUGIN_DIR) -> bytes:
    """The plugin folder as a WordPress plugin zip: <slug>/<files>, sorted, fixed times and modes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        folder = zipfile.ZipInfo(f"{PLUGIN_SLUG}/", _FIXED_TIME)
        folder.external_attr = (0o40755 << 16) | 0x10
        archive.writestr(folder, b"")
        for path in _files(root):
            entry = zipfile.ZipInfo(f"{PLUGIN_SLUG}/{path.relative_to(root).as_posix()}", _FIXED_TIME)
            entry.external_attr = 0o100644 << 16
            entry.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(entry, path.read_bytes())
    return buffer.getvalue()


def plugin_zip() -> bytes:
    """The zip, rebuilt only when a file under plugin/ changed (size or mtime), so a deploy needs no restart."""
    global _cached
    stamp = tuple((p.as_posix(), p.stat().st_size, p.stat().st_mtime_ns) for p in _files(PLUGIN_DIR))
    with _lock:
        if _cached is None or _cached[0] != stamp:
            _cached = (stamp, build_zip())
        return _cached[1]


def etag(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]
