"""File storage: uploads by the bot and by simulated users, getFile paths, image checks."""

from __future__ import annotations

import mimetypes
import struct
from pathlib import PurePosixPath
from typing import NamedTuple

from .errors import bad_request
from .models import StoredFile

MAX_DOWNLOAD = 20 * 1024 * 1024  # getFile refuses bigger files, as Telegram does for bots

# Magic numbers Telegram's photo pipeline accepts; anything else fails like a corrupt image.
_IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"RIFF", b"BM")


class Upload(NamedTuple):
    """A file part of a multipart request."""

    filename: str
    data: bytes
    content_type: str | None


class FileStore:
    def __init__(self) -> None:
        self._by_id: dict[str, StoredFile] = {}
        self._by_path: dict[str, StoredFile] = {}
        self._count = 0

    def add(
        self,
        data: bytes,
        *,
        kind: str,
        filename: str | None = None,
        mime_type: str | None = None,
    ) -> StoredFile:
        if not data:
            raise bad_request("file must be non-empty")
        if kind == "photo" and not data.startswith(_IMAGE_MAGIC):
            raise bad_request("IMAGE_PROCESS_FAILED")
        self._count += 1
        number = self._count
        suffix = PurePosixPath(filename or "").suffix or (".jpg" if kind == "photo" else "")
        stored = StoredFile(
            file_id=f"{'AgAC' if kind == 'photo' else 'BQAC'}{number:06d}StandInFileId",
            file_unique_id=f"AQAD{number:06d}",
            data=data,
            kind=kind,
            file_path=f"{kind}s/file_{number}{suffix}",
            filename=filename if kind != "photo" else None,
            mime_type=(mime_type or mimetypes.guess_type(filename or "")[0]) if kind != "photo" else None,
        )
        if kind == "photo":
            stored.width, stored.height = image_size(data)
        self._by_id[stored.file_id] = stored
        self._by_path[stored.file_path] = stored
        return stored

    def get(self, file_id: str) -> StoredFile | None:
        return self._by_id.get(file_id)

    def by_path(self, path: str) -> StoredFile | None:
        return self._by_path.get(path)

    def resolve(self, value: object, uploads: dict[str, Upload], field: str, kind: str) -> StoredFile:
        """Turn an InputFile parameter (upload, attach://name, file_id or URL) into a stored file."""
        upload = uploads.get(field)
        if upload is None and isinstance(value, str) and value.startswith("attach://"):
            upload = uploads.get(value.removeprefix("attach://"))
            if upload is None:
                raise bad_request(f"wrong file identifier/HTTP URL specified: nothing attached as {value!r}")
        if upload is not None:
            return self.add(upload.data, kind=kind, filename=upload.filename, mime_type=upload.content_type)
        if isinstance(value, str) and value in self._by_id:
            return self._reuse(self._by_id[value], kind)
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            # The stand-in never fetches the internet; the URL's name stands in for the content.
            name = PurePosixPath(value.split("?")[0]).name or "file"
            return self.add(_ONE_PIXEL_PNG if kind == "photo" else value.encode(), kind=kind, filename=name)
        raise bad_request("wrong file identifier/HTTP URL specified")

    def _reuse(self, stored: StoredFile, kind: str) -> StoredFile:
        if stored.kind != kind:
            raise bad_request(f"can't use file of type {stored.kind.capitalize()} as {kind.capitalize()}")
        return stored


def image_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG or JPEG; (0, 0) when the format isn't worth parsing here."""
    if data.startswith(b"\x89PNG") and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    return (0, 0)


def _jpeg_size(data: bytes) -> tuple[int, int]:
    pos = 2
    while pos + 9 < len(data):
        if data[pos] != 0xFF:
            return (0, 0)
        marker = data[pos + 1]
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):  # start-of-frame markers carry the dimensions
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return (width, height)
        pos += 2 + length
    return (0, 0)


_ONE_PIXEL_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6300010000000500010d0a2db40000000049454e44ae426082"
)
