"""Reading one media file's metadata: size, displayed width and height, duration.

Plain functions, no database: :func:`probe` takes the (real) media root, the row's ``path`` and
``kind`` and returns a :class:`Metadata`, or raises :class:`MediaError` whose message is the
operator-facing ``metadata_error`` ("truncated image: u/1/a.jpg (...)").

Choices worth knowing:

* Only a file whose resolved real path lies inside the real media root is opened (a hostile
  ``path`` such as ``../x``, an absolute path or a symbolic link leading out is refused), it is
  opened once without following a final symlink and without blocking, and every later read goes
  through that one descriptor, so the file checked is the file read.
* Images go through Pillow, restricted to the formats users upload (no EPS/Ghostscript, no
  exotic decoders). Pillow's ``open`` only reads the header, so every image is also decoded to
  detect truncation and corruption (``ImageFile.LOAD_TRUNCATED_IMAGES`` stays False). The
  trade-off for speed: a JPEG is decoded in draft mode at 1/8 scale, which still entropy-decodes
  the whole stream (so a cut anywhere is reported) but skips most of the IDCT and colour work;
  other formats are decoded in full. Decoders stop once they have the last pixel, so a PNG also
  has its chunk CRCs checked up to IEND and a GIF its blocks walked up to the trailer: a file
  cut at any byte is reported. An animated image has every frame decoded (its total duration
  is the sum of the frames'), within a pixel budget.
* Decompression bombs are refused from the header's dimensions before any decoding: above
  ``Image.MAX_IMAGE_PIXELS`` pixels (Pillow's warning threshold is made an error too).
* Video and audio go through pymediainfo (container headers only, fast). A container that
  MediaInfo flags as truncated is an error; so is content that is not what ``kind`` says.
"""

from __future__ import annotations

import os
import stat
import warnings
from dataclasses import dataclass
from typing import BinaryIO

from PIL import ExifTags, Image, UnidentifiedImageError

#: Pillow formats accepted for kind 'image' (those a browser or phone uploads).
IMAGE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "AVIF", "BMP", "TIFF")
#: Formats whose extra frames are animation frames (MPO's second frame is not, nor a TIFF page).
ANIMATED_FORMATS = ("GIF", "WEBP", "PNG")
#: EXIF orientations that rotate by 90° or 270°: the displayed size is the stored one swapped.
SWAPPING_ORIENTATIONS = {5, 6, 7, 8}
#: Most pixels decoded over all frames of one animated image (a 1000-frame 1000×1000 animation).
MAX_ANIMATION_PIXELS = 1_000_000_000
#: Longest detail kept from a library's own error message.
MAX_DETAIL = 200

KINDS = ("image", "video", "audio")


@dataclass(frozen=True)
class Metadata:
    size_bytes: int
    width: int | None = None
    height: int | None = None
    duration_ms: int | None = None


class MediaError(Exception):
    """The file cannot give its metadata; ``str(self)`` is the metadata_error to record."""

    def __init__(self, message: str, size_bytes: int | None = None):
        super().__init__(message)
        self.size_bytes = size_bytes


def probe(root_real: str, rel: str, kind: str) -> Metadata:
    """Metadata of the file at ``rel`` under ``root_real`` (already a real path), read as ``kind``."""
    if kind not in KINDS:
        raise MediaError(f"unknown media kind {kind!r}: {rel} (expected image, video or audio)")
    fh, size = open_inside(root_real, rel)
    with fh:
        try:
            if kind == "image":
                return probe_image(fh, rel, size)
            return probe_av(fh, rel, size, kind)
        except MediaError as exc:
            exc.size_bytes = size
            raise


def open_inside(root_real: str, rel: str) -> tuple[BinaryIO, int]:
    """Open ``rel`` for reading if it is a non-empty regular file inside the media root."""
    if not isinstance(rel, str) or not rel or "\x00" in rel:
        raise MediaError(f"invalid path: {rel!r}")
    if os.path.isabs(rel):
        raise MediaError(f"path is absolute, expected one relative to the media root: {rel}")
    real = os.path.realpath(os.path.join(root_real, rel))
    if os.path.commonpath([root_real, real]) != root_real:
        raise MediaError(f"path leads outside the media root: {rel}")
    if real == root_real:
        raise MediaError(f"not a regular file: {rel} (it is the media root)")
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise MediaError(f"file not found: {rel}") from None
    except PermissionError:
        raise MediaError(f"file not readable (permission denied): {rel}") from None
    except OSError as exc:
        raise MediaError(f"cannot open file: {rel} ({exc.strerror})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise MediaError(f"not a regular file: {rel}")
        if st.st_size == 0:
            raise MediaError(f"empty file (0 bytes): {rel}", size_bytes=0)
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb"), st.st_size
    except BaseException:
        os.close(fd)
        raise


# -- images ----------------------------------------------------------------------------------

def probe_image(fh: BinaryIO, rel: str, size: int) -> Metadata:
    """Displayed size (after EXIF orientation) and animation duration of an image file."""
    with warnings.catch_warnings():
        # Pillow chatters (UserWarning) about damaged EXIF and the like; the outcome says enough.
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with _open_image(fh, rel) as im:  # leaves fh open
            width, height = im.size
            fmt = im.format
            check_pixels(rel, width, height)
            if fmt == "PNG":
                _check_png_chunks(im, fh, rel)
            elif fmt == "GIF":
                _check_gif_trailer(fh, rel)
            else:
                duration, orientation = _read_pixels(im, rel, width, height)
        if fmt in ("PNG", "GIF"):  # checked apart above: decode from a fresh open
            fh.seek(0)
            with _open_image(fh, rel) as im:
                duration, orientation = _read_pixels(im, rel, width, height)
    if orientation in SWAPPING_ORIENTATIONS:
        width, height = height, width
    return Metadata(size, width, height, duration)


def _open_image(fh: BinaryIO, rel: str) -> Image.Image:
    """Identify the image from its header; refuse a decompression bomb before any decoding."""
    try:
        return Image.open(fh, formats=_image_formats())  # bomb warnings are errors (probe_image)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise MediaError(f"image too large: {rel} ({_detail(exc)})") from None
    except UnidentifiedImageError:
        fmt = _sniff(fh)
        if fmt is not None:
            raise MediaError(f"corrupt image: {rel} ({fmt} header unreadable)") from None
        raise MediaError(f"not an image file: {rel} (not a {'/'.join(IMAGE_FORMATS)} image)") from None
    except Exception as exc:  # any decoder error on a damaged header
        raise _image_error(rel, exc) from None


#: Leading bytes of the accepted formats, to tell a damaged image from something else.
MAGIC = [(b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"),
         (b"BM", "BMP"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF")]


def _sniff(fh: BinaryIO) -> str | None:
    """The image format the file's first bytes announce, if any."""
    fh.seek(0)
    head = fh.read(16)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[4:8] == b"ftyp" and head[8:12] in (b"avif", b"avis"):
        return "AVIF"
    return next((name for magic, name in MAGIC if head.startswith(magic)), None)


def _guard(rel: str, func, *args):
    """Run a Pillow step; any exception it raises means the file is damaged."""
    try:
        return func(*args)
    except MediaError:
        raise
    except Exception as exc:
        raise _image_error(rel, exc) from None


def check_pixels(rel: str, width: int, height: int, frames: int = 1) -> None:
    """Refuse an image whose pixel count is a decompression bomb, before decoding it."""
    limit = Image.MAX_IMAGE_PIXELS
    if limit is not None and width * height > limit:
        raise MediaError(f"image too large: {rel} ({width}×{height} pixels, the limit is {limit})")
    if frames > 1 and width * height * frames > MAX_ANIMATION_PIXELS:
        raise MediaError(f"image too large: {rel} ({frames} frames of {width}×{height} pixels, "
                         f"the limit is {MAX_ANIMATION_PIXELS} pixels in all)")


def _read_pixels(im: Image.Image, rel: str, width: int, height: int) -> tuple[int | None, int]:
    """Decode the image; return its animation duration (or None) and its EXIF orientation."""
    return _guard(rel, _decode, im, rel, width, height), _orientation(im)


def _decode(im: Image.Image, rel: str, width: int, height: int) -> int | None:
    """Decode the image (every frame if animated); return the total duration in ms or None."""
    if not (im.format in ANIMATED_FORMATS and getattr(im, "is_animated", False)):
        if im.format in ("JPEG", "MPO"):
            im.draft(im.mode, (max(1, width // 8), max(1, height // 8)))
        im.load()
        return None
    frames = im.n_frames
    check_pixels(rel, width, height, frames)
    total = 0.0
    for i in range(frames):
        im.seek(i)
        im.load()  # WebP sets the frame's duration on load
        total += float(im.info.get("duration") or 0)
    return int(round(total))


def _check_png_chunks(im: Image.Image, fh: BinaryIO, rel: str) -> None:
    """Check every chunk's CRC up to IEND: zlib hands out the last pixel row before them."""
    _guard(rel, im.verify)
    # verify() stops after IEND's length and type; its CRC must follow.
    if len(fh.read(4)) < 4:
        raise MediaError(f"truncated image: {rel} (PNG data ends inside its IEND chunk)")


def _check_gif_trailer(fh: BinaryIO, rel: str) -> None:
    """Walk a GIF's blocks up to its trailer; Pillow's decoder tolerates a file cut short."""
    fh.seek(0)
    head = fh.read(13)
    if len(head) < 13:
        raise MediaError(f"truncated image: {rel} (GIF header cut short)")
    if head[10] & 0x80:
        _read_exactly(fh, 3 << ((head[10] & 7) + 1), rel)
    while True:
        block = fh.read(1)
        if block == b";":
            return
        if not block:
            raise MediaError(f"truncated image: {rel} (GIF data ends before its trailer)")
        if block == b"!":
            _read_exactly(fh, 1, rel)
            _skip_sub_blocks(fh, rel)
        elif block == b",":
            desc = _read_exactly(fh, 9, rel)
            if desc[8] & 0x80:
                _read_exactly(fh, 3 << ((desc[8] & 7) + 1), rel)
            _read_exactly(fh, 1, rel)
            _skip_sub_blocks(fh, rel)
        # any other byte is skipped, as Pillow and browsers do


def _skip_sub_blocks(fh: BinaryIO, rel: str) -> None:
    while (n := _read_exactly(fh, 1, rel)[0]) != 0:
        _read_exactly(fh, n, rel)


def _read_exactly(fh: BinaryIO, n: int, rel: str) -> bytes:
    data = fh.read(n)
    if len(data) < n:
        raise MediaError(f"truncated image: {rel} (GIF data ends before its trailer)")
    return data


def _orientation(im: Image.Image) -> int:
    # A damaged EXIF block does not make the picture unreadable: browsers then show it unrotated.
    try:
        return int(im.getexif().get(ExifTags.Base.Orientation, 1))
    except Exception:
        return 1


def _image_error(rel: str, exc: BaseException) -> MediaError:
    text = _detail(exc)
    if isinstance(exc, EOFError) or any(w in text.lower() for w in ("truncated", "incomplete")):
        return MediaError(f"truncated image: {rel} ({text})")
    return MediaError(f"corrupt image: {rel} ({text})")


_formats_cache: list[str] | None = None


def _image_formats() -> list[str]:
    global _formats_cache
    if _formats_cache is None:
        Image.init()
        _formats_cache = [f for f in IMAGE_FORMATS if f in Image.OPEN]
    return _formats_cache


# -- video and audio ---------------------------------------------------------------------------

def probe_av(fh: BinaryIO, rel: str, size: int, kind: str) -> Metadata:
    """Duration (and for video the displayed width and height) from the container's headers."""
    from pymediainfo import MediaInfo

    try:
        info = MediaInfo.parse(fh)
    except Exception as exc:
        raise MediaError(f"unreadable {kind} file: {rel} ({_detail(exc)})") from None
    general = info.general_tracks[0] if info.general_tracks else None
    container = (general.format if general is not None else None) or "unrecognised content"
    if general is not None and str(general.istruncated or "").lower() == "yes":
        raise MediaError(f"truncated {kind} file: {rel} ({container} data ends early)")
    videos, audios = info.video_tracks, info.audio_tracks
    if kind == "video" and not videos:
        raise MediaError(f"not a video file: {rel} (no video stream; {_found(info, container)})")
    if kind == "audio" and not audios:
        raise MediaError(f"not an audio file: {rel} (no audio stream; {_found(info, container)})")
    if kind == "audio" and videos:
        raise MediaError(f"not an audio file: {rel} (it contains a video stream; {container})")
    duration = _number(general.duration if general is not None else None)
    if duration is None:
        durations = [d for d in (_number(t.duration) for t in videos + audios) if d is not None]
        duration = max(durations) if durations else None
    width = height = None
    if kind == "video":
        v = videos[0]
        width, height = _int(v.width), _int(v.height)
        rotation = _number(v.rotation)
        if rotation is not None and rotation % 180 == 90 and width and height:
            width, height = height, width
    return Metadata(size, width, height, None if duration is None else int(round(duration)))


def _found(info, container: str) -> str:
    if info.image_tracks:
        return f"it is a {info.image_tracks[0].format or 'still'} image"
    if info.audio_tracks:
        return f"it is audio only ({container})"
    return "unrecognised content" if container == "unrecognised content" else f"container {container}"


def _number(value) -> float | None:
    if value is None or value == "":
        return None
    try:
        return float(str(value).split("/")[0])
    except ValueError:
        return None


def _int(value) -> int | None:
    n = _number(value)
    return None if n is None else int(round(n))


def _detail(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= MAX_DETAIL else text[:MAX_DETAIL - 1] + "…"
