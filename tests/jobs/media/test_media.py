"""media-metadata and media-metadata-batch: known answers on real files made here, errors, kill safety."""

from __future__ import annotations

import io
import os
import struct
import wave
import zlib

import av
import numpy as np
import pytest
from PIL import ExifTags, Image, ImageFile

from builders import NOW, Platform, run_job
from jobctl.context import Reporter, make_context
from jobctl.errors import JobFailed, ParamError
from jobctl.jobs import media
from jobctl.jobs.media import probing as media_probe
from jobctl.jobs.media.probing import MediaError, probe

LATER = "2026-11-30T00:00:00Z"
COLS = "size_bytes, width, height, duration_ms, metadata_at, metadata_error"


# -- files ------------------------------------------------------------------------------------

def jpeg_bytes(w: int = 64, h: int = 32, orientation: int | None = None) -> bytes:
    im = Image.linear_gradient("L").resize((w, h)).convert("RGB")
    kw = {}
    if orientation is not None:
        exif = Image.Exif()
        exif[ExifTags.Base.Orientation] = orientation
        kw["exif"] = exif
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90, **kw)
    return buf.getvalue()


def png_bytes(w: int = 30, h: int = 20) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (w, h), (10, 200, 30)).save(buf, "PNG")
    return buf.getvalue()


def gif_bytes(durations=(100, 200, 300), size=(20, 10)) -> bytes:
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)]
    frames = [Image.new("RGB", size, colours[i % 4]) for i in range(len(durations))]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=list(durations), loop=0)
    return buf.getvalue()


def wav_bytes(frames: int = 12000, rate: int = 8000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x01" * frames)
    return buf.getvalue()


@pytest.fixture(scope="module")
def mp4() -> bytes:
    """A real H.264 MP4: 64×48, 25 frames at 25 fps (one second)."""
    buf = io.BytesIO()
    out = av.open(buf, "w", format="mp4")
    stream = out.add_stream("libx264", rate=25)
    stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
    for i in range(25):
        frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), i * 8, np.uint8), format="rgb24")
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)
    out.close()
    return buf.getvalue()


def png_header_only(w: int, h: int) -> bytes:
    """A tiny PNG that claims to be w×h pixels (a decompression bomb's header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


# -- helpers ----------------------------------------------------------------------------------

def row(platform: Platform, media_id: int) -> tuple:
    return platform.rows(f"SELECT {COLS} FROM media WHERE id = ?", media_id)[0]


def fail_one(platform: Platform, media_id: int) -> str:
    with pytest.raises(JobFailed) as info:
        run_job(platform, media.media_metadata, media_id=media_id)
    return str(info.value)


@pytest.fixture
def owner(platform) -> int:
    return platform.user()


# -- media-metadata: known answers ---------------------------------------------------------------

def test_jpeg_with_exif_orientation_6_has_width_and_height_swapped(platform, owner):
    data = jpeg_bytes(64, 32, orientation=6)
    mid = platform.media(owner, "u1/photo.jpg", "image", content=data,
                         metadata_error="old error", width=1, height=1)
    result = run_job(platform, media.media_metadata, media_id=mid)
    assert row(platform, mid) == (len(data), 32, 64, None, NOW, None)
    assert result == {"media_id": mid, "kind": "image", "size_bytes": len(data),
                      "width": 32, "height": 64, "duration_ms": None}


@pytest.mark.parametrize("orientation, shown", [(1, (64, 32)), (3, (64, 32)), (5, (32, 64)), (8, (32, 64))])
def test_jpeg_orientations(platform, owner, orientation, shown):
    mid = platform.media(owner, "p.jpg", "image", content=jpeg_bytes(64, 32, orientation))
    run_job(platform, media.media_metadata, media_id=mid)
    assert row(platform, mid)[1:3] == shown


def test_png(platform, owner):
    data = png_bytes(30, 20)
    mid = platform.media(owner, "a/b/c.png", "image", content=data)
    run_job(platform, media.media_metadata, media_id=mid)
    assert row(platform, mid) == (len(data), 30, 20, None, NOW, None)


def test_animated_gif_duration_is_the_sum_of_its_frames(platform, owner):
    data = gif_bytes((100, 200, 300))
    mid = platform.media(owner, "anim.gif", "image", content=data)
    run_job(platform, media.media_metadata, media_id=mid)
    assert row(platform, mid) == (len(data), 20, 10, 600, NOW, None)


def test_animated_webp_duration(platform, owner):
    frames = [Image.new("RGB", (16, 8), c) for c in [(255, 0, 0), (0, 255, 0)]]
    buf = io.BytesIO()
    frames[0].save(buf, "WEBP", save_all=True, append_images=frames[1:], duration=[250, 500])
    mid = platform.media(owner, "anim.webp", "image", content=buf.getvalue())
    run_job(platform, media.media_metadata, media_id=mid)
    assert row(platform, mid)[1:4] == (16, 8, 750)


def test_wav(platform, owner):
    data = wav_bytes(12000, 8000)  # 1.5 s
    mid = platform.media(owner, "voice.wav", "audio", content=data)
    run_job(platform, media.media_metadata, media_id=mid)
    assert row(platform, mid) == (len(data), None, None, 1500, NOW, None)


def test_real_mp4(platform, owner, mp4):
    mid = platform.media(owner, "clip.mp4", "video", content=mp4)
    run_job(platform, media.media_metadata, media_id=mid)
    size, width, height, duration, at, error = row(platform, mid)
    assert (size, width, height, at, error) == (len(mp4), 64, 48, NOW, None)
    assert abs(duration - 1000) <= 40  # one frame of slack for the muxer's rounding


def test_video_rotation_swaps_the_displayed_size(monkeypatch, tmp_path):
    from pymediainfo import MediaInfo
    xml = ("<Mediainfo><File><track type='General'><Format>MPEG-4</Format><Duration>2500.4</Duration></track>"
           "<track type='Video'><Width>1920</Width><Height>1080</Height><Rotation>90.000</Rotation>"
           "</track></File></Mediainfo>")
    monkeypatch.setattr(MediaInfo, "parse", classmethod(lambda cls, fh: MediaInfo(xml)))
    (tmp_path / "v.mp4").write_bytes(b"anything")
    assert probe(str(tmp_path), "v.mp4", "video") == media.Metadata(8, 1080, 1920, 2500)


# -- media-metadata: errors ----------------------------------------------------------------------

def test_missing_file(platform, owner):
    mid = platform.media(owner, "gone.jpg", "image", width=5, height=5, size_bytes=9)
    message = fail_one(platform, mid)
    assert message == "file not found: gone.jpg"
    assert row(platform, mid) == (None, None, None, None, NOW, message)


def test_empty_file(platform, owner):
    mid = platform.media(owner, "empty.jpg", "image", content=b"")
    message = fail_one(platform, mid)
    assert message == "empty file (0 bytes): empty.jpg"
    assert row(platform, mid) == (0, None, None, None, NOW, message)


def test_truncated_jpeg(platform, owner):
    data = jpeg_bytes(64, 32)
    mid = platform.media(owner, "cut.jpg", "image", content=data[: len(data) * 2 // 3])
    message = fail_one(platform, mid)
    assert message.startswith("truncated image: cut.jpg (")
    assert row(platform, mid) == (len(data) * 2 // 3, None, None, None, NOW, message)


def test_text_file_named_mp4(platform, owner):
    mid = platform.media(owner, "fake.mp4", "video", content=b"hello, I am not a video\n")
    message = fail_one(platform, mid)
    assert message == "not a video file: fake.mp4 (no video stream; unrecognised content)"
    assert row(platform, mid)[4:] == (NOW, message)


def test_truncated_mp4(platform, owner, mp4):
    mid = platform.media(owner, "cut.mp4", "video", content=mp4[: len(mp4) - 100])
    assert fail_one(platform, mid).startswith("truncated video file: cut.mp4")


@pytest.mark.parametrize("path, kind, content, expected", [
    ("jpeg-as-video.mp4", "video", "jpeg", "not a video file: jpeg-as-video.mp4 (no video stream; it is a JPEG image)"),
    ("wav-as-video.mp4", "video", "wav", "not a video file: wav-as-video.mp4 (no video stream; it is audio only (Wave))"),
    ("mp4-as-image.jpg", "image", "mp4", "not an image file: mp4-as-image.jpg (not a JPEG/PNG/GIF/WEBP/AVIF/BMP/TIFF image)"),
    ("mp4-as-audio.m4a", "audio", "mp4", "not an audio file: mp4-as-audio.m4a (no audio stream; container MPEG-4)"),
    ("text.png", "image", "text", "not an image file: text.png (not a JPEG/PNG/GIF/WEBP/AVIF/BMP/TIFF image)"),
    ("odd.bin", "document", "text", "unknown media kind 'document': odd.bin (expected image, video or audio)"),
])
def test_kind_and_content_mismatch(platform, owner, mp4, path, kind, content, expected):
    data = {"jpeg": jpeg_bytes(), "wav": wav_bytes(), "mp4": mp4, "text": b"plain text\n"}[content]
    mid = platform.media(owner, path, kind, content=data)
    assert fail_one(platform, mid) == expected


def test_decompression_bomb_is_refused_not_decoded(platform, owner):
    mid = platform.media(owner, "bomb.png", "image", content=png_header_only(100_000, 100_000))
    message = fail_one(platform, mid)
    assert message.startswith("image too large: bomb.png (")


def test_image_above_the_warning_limit_is_refused(platform, owner, monkeypatch):
    # Between MAX_IMAGE_PIXELS and twice that, Pillow only warns: that must refuse too, undecoded.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 400)
    decoded = []
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(1))
    mid = platform.media(owner, "big.png", "image", content=png_bytes(30, 20))  # 600 pixels
    assert fail_one(platform, mid).startswith("image too large: big.png (")
    assert decoded == []


def test_animation_pixel_budget(platform, owner, monkeypatch):
    monkeypatch.setattr(media_probe, "MAX_ANIMATION_PIXELS", 500)
    mid = platform.media(owner, "long.gif", "image", content=gif_bytes((10, 10, 10)))  # 3 × 200 pixels
    assert fail_one(platform, mid) == ("image too large: long.gif (3 frames of 20×10 pixels, "
                                       "the limit is 500 pixels in all)")


def test_corrupt_jpeg(platform, owner):
    data = jpeg_bytes(64, 32)
    at = data.index(b"\xff\xc4") + 4  # inside the Huffman table definition
    bad_table = platform.media(owner, "table.jpg", "image", content=data[:at] + b"\xff" * 30 + data[at + 30:])
    bad_header = platform.media(owner, "head.jpg", "image", content=data[:20] + b"\x00" * 200 + data[220:])
    assert fail_one(platform, bad_table) == "corrupt image: table.jpg (broken data stream when reading image file)"
    assert fail_one(platform, bad_header) == "corrupt image: head.jpg (JPEG header unreadable)"


def test_hostile_paths_are_not_read(platform, owner, tmp_path):
    secret = png_bytes()
    (tmp_path / "secret.png").write_bytes(secret)
    os.symlink(tmp_path / "secret.png", platform.media_root / "link.png")
    cases = {
        "../secret.png": "path leads outside the media root: ../secret.png",
        str(tmp_path / "secret.png"): f"path is absolute, expected one relative to the media root: {tmp_path / 'secret.png'}",
        "link.png": "path leads outside the media root: link.png",
        "a/../../secret.png": "path leads outside the media root: a/../../secret.png",
    }
    for path, expected in cases.items():
        mid = platform.media(owner, path, "image")
        assert fail_one(platform, mid) == expected
        assert row(platform, mid)[0] is None  # not even its size was read


def test_symlink_inside_the_root_is_followed(platform, owner):
    data = png_bytes()
    (platform.media_root / "real.png").write_bytes(data)
    os.symlink("real.png", platform.media_root / "alias.png")
    mid = platform.media(owner, "alias.png", "image")
    run_job(platform, media.media_metadata, media_id=mid)
    assert row(platform, mid)[:3] == (len(data), 30, 20)


def test_directory_and_fifo_are_not_regular_files(platform, owner):
    (platform.media_root / "dir.jpg").mkdir()
    os.mkfifo(platform.media_root / "pipe.jpg")
    assert fail_one(platform, platform.media(owner, "dir.jpg")) == "not a regular file: dir.jpg"
    assert fail_one(platform, platform.media(owner, "pipe.jpg")) == "not a regular file: pipe.jpg"


def test_missing_media_root_fails_without_writing(platform, owner, tmp_path):
    mid = platform.media(owner, "x.png", "image", content=png_bytes())
    ctx = make_context(platform.conn, media.media_metadata.spec, {"media_id": mid, "now": NOW},
                       media_root=tmp_path / "nowhere")
    with pytest.raises(JobFailed, match="media root not found"):
        media.media_metadata(ctx)
    assert row(platform, mid) == (None, None, None, None, None, None)


def test_unknown_media_id_is_refused_before_queueing(platform, owner):
    spec = media.media_metadata.spec
    mid = platform.media(owner, "x.png", "image")
    assert spec.validate(platform.conn, spec.resolve_params({"media_id": mid})) is None
    with pytest.raises(ParamError, match="media 999 does not exist"):
        spec.validate(platform.conn, spec.resolve_params({"media_id": "999"}))
    with pytest.raises(ParamError, match="media_id is required"):
        spec.resolve_params({})
    with pytest.raises(ParamError, match="at least 1"):
        spec.resolve_params({"media_id": 0})


def test_catalogue_entries():
    single, batch = media.media_metadata.spec, media.media_metadata_batch.spec
    assert (single.name, single.group, single.bulk, single.uses_now) == ("media-metadata", "media", False, True)
    assert (batch.name, batch.group, batch.bulk, batch.resumable) == ("media-metadata-batch", "media", True, True)
    assert single.param("media_id").required and single.depends_on == batch.depends_on == ()
    assert single.uses_media and batch.uses_media
    assert {p.name for p in batch.params} == {"full", "retry_failed", "batch_size", "pause_ms", "now"}


# -- media-metadata-batch ---------------------------------------------------------------------

def mixed_platform(p: Platform, mp4: bytes) -> dict[str, int]:
    """Eleven media rows: good files of every kind and bad ones, in a fixed id order."""
    u = p.user()
    return {
        "jpeg": p.media(u, "1.jpg", "image", content=jpeg_bytes(64, 32, orientation=6)),
        "missing": p.media(u, "2.jpg", "image"),
        "png": p.media(u, "3.png", "image", content=png_bytes()),
        "empty": p.media(u, "4.mp4", "video", content=b""),
        "gif": p.media(u, "5.gif", "image", content=gif_bytes()),
        "wav": p.media(u, "6.wav", "audio", content=wav_bytes()),
        "mp4": p.media(u, "7.mp4", "video", content=mp4),
        "truncated": p.media(u, "8.jpg", "image", content=jpeg_bytes()[:300]),
        "text": p.media(u, "9.mp4", "video", content=b"text\n"),
        "png2": p.media(u, "10.png", "image", content=png_bytes(7, 9)),
        "outside": p.media(u, "../11.png", "image"),
    }


def all_rows(p: Platform) -> list[tuple]:
    return p.rows(f"SELECT id, {COLS} FROM media ORDER BY id")


def test_batch_records_errors_and_goes_on(platform, mp4):
    ids = mixed_platform(platform, mp4)
    result = run_job(platform, media.media_metadata_batch, batch_size=3)
    assert (result["processed"], result["ok"], result["failed"], result["skipped"]) == (11, 6, 5, 0)
    assert result["errors"][0] == f"media {ids['missing']}: file not found: 2.jpg"
    by_id = {r[0]: r[1:] for r in all_rows(platform)}
    assert by_id[ids["jpeg"]][1:3] == (32, 64)
    assert by_id[ids["gif"]][3] == 600
    assert by_id[ids["png2"]][:3] == (len(png_bytes(7, 9)), 7, 9)
    assert by_id[ids["truncated"]][5].startswith("truncated image: 8.jpg")
    assert by_id[ids["empty"]] == (0, None, None, None, NOW, "empty file (0 bytes): 4.mp4")
    assert all(r[4] == NOW for r in by_id.values())
    assert sum(r[5] is not None for r in by_id.values()) == 5


def test_batch_is_incremental(platform, mp4):
    ids = mixed_platform(platform, mp4)
    run_job(platform, media.media_metadata_batch)
    before = all_rows(platform)
    u = platform.user()
    new = platform.media(u, "new.png", "image", content=png_bytes(3, 4))
    result = run_job(platform, media.media_metadata_batch, now=LATER)
    assert (result["processed"], result["ok"], result["failed"]) == (1, 1, 0)
    after = all_rows(platform)
    assert after[:-1] == before  # rows already read, failed ones included, are left alone
    assert after[-1] == (new, len(png_bytes(3, 4)), 3, 4, None, LATER, None)
    assert ids  # the mixed rows exist


def test_batch_retry_failed_and_full(platform, mp4):
    ids = mixed_platform(platform, mp4)
    run_job(platform, media.media_metadata_batch)
    (platform.media_root / "2.jpg").write_bytes(jpeg_bytes(10, 20))  # the missing file arrives
    retried = run_job(platform, media.media_metadata_batch, now=LATER, retry_failed=True)
    assert (retried["processed"], retried["ok"], retried["failed"]) == (5, 1, 4)
    assert row(platform, ids["missing"]) == (len(jpeg_bytes(10, 20)), 10, 20, None, LATER, None)
    assert row(platform, ids["png"])[4] == NOW  # a good row is not re-read
    full = run_job(platform, media.media_metadata_batch, now=LATER, full=True)
    assert (full["processed"], full["ok"], full["failed"]) == (11, 7, 4)
    assert {r[5] for r in all_rows(platform)} == {LATER}


def clean_rows(tmp_path, mp4) -> list[tuple]:
    clean = Platform(tmp_path / "clean")
    mixed_platform(clean, mp4)
    run_job(clean, media.media_metadata_batch, batch_size=3)
    rows = all_rows(clean)
    clean.conn.close()
    return rows


def test_batch_crash_inside_a_write_rolls_the_whole_batch_back(platform, mp4, monkeypatch):
    mixed_platform(platform, mp4)
    real_write, calls = media.write_outcomes, []

    def crashing_write(conn, outcomes, now):
        calls.append(1)
        if len(calls) == 2:
            real_write(conn, outcomes[:2], now)  # half the batch written, then the process dies
            raise KeyboardInterrupt
        return real_write(conn, outcomes, now)

    monkeypatch.setattr(media, "write_outcomes", crashing_write)
    with pytest.raises(KeyboardInterrupt):
        run_job(platform, media.media_metadata_batch, batch_size=4)
    assert [r[5] is not None for r in all_rows(platform)] == [True] * 4 + [False] * 7


def test_batch_leaves_a_row_changed_while_its_file_was_read(platform, mp4, monkeypatch):
    ids = mixed_platform(platform, mp4)
    real_extract = media.extract

    def extract_while_app_moves_the_file(root, media_id, path, kind):
        if media_id == ids["png"]:
            platform.conn.execute("UPDATE media SET path = 'moved.png' WHERE id = ?", (media_id,))
        return real_extract(root, media_id, path, kind)

    monkeypatch.setattr(media, "extract", extract_while_app_moves_the_file)
    result = run_job(platform, media.media_metadata_batch)
    assert result["skipped"] == 1 and result["ok"] + result["failed"] == 10
    assert row(platform, ids["png"]) == (None, None, None, None, None, None)


def test_single_job_on_a_row_deleted_while_read(platform, owner, monkeypatch):
    mid = platform.media(owner, "x.png", "image", content=png_bytes())
    real_extract = media.extract

    def extract_then_delete(root, media_id, path, kind):
        platform.conn.execute("DELETE FROM media WHERE id = ?", (media_id,))
        return real_extract(root, media_id, path, kind)

    monkeypatch.setattr(media, "extract", extract_then_delete)
    with pytest.raises(JobFailed, match="changed or deleted"):
        run_job(platform, media.media_metadata, media_id=mid)


def test_batch_progress_and_log(platform, mp4):
    mixed_platform(platform, mp4)
    reporter = Reporter()
    run_job(platform, media.media_metadata_batch, batch_size=4, reporter=reporter)
    assert (reporter.done, reporter.total) == (11, 11)
    warnings = [m for level, m in reporter.logs if level == "warning"]
    assert len(warnings) == 5 and all(m.startswith("media ") for m in warnings)


def test_batch_missing_media_root_fails_before_touching_rows(platform, mp4, tmp_path):
    mixed_platform(platform, mp4)
    ctx = make_context(platform.conn, media.media_metadata_batch.spec, {"now": NOW},
                       media_root=tmp_path / "nowhere")
    with pytest.raises(JobFailed, match="media root not found"):
        media.media_metadata_batch(ctx)
    assert {r[5] for r in all_rows(platform)} == {None}


def test_probe_raises_only_media_errors_for_bad_input(tmp_path):
    (tmp_path / "x").write_bytes(b"\x00" * 10)
    for kind in ("image", "video", "audio"):
        with pytest.raises(MediaError):
            probe(str(tmp_path), "x", kind)


def test_batch_on_a_demo_platform_reports_exactly_its_broken_uploads(tmp_path):
    from jobctl.db import connect
    from jobctl.demo import build_demo
    from jobctl.timeutil import parse_ts

    build_demo(tmp_path / "demo.db", tmp_path / "media", 200, seed=7, now=parse_ts(NOW))
    conn = connect(tmp_path / "demo.db")
    try:
        ctx = make_context(conn, media.media_metadata_batch.spec, {"now": NOW}, media_root=tmp_path / "media")
        result = media.media_metadata_batch(ctx)
        rows = conn.execute("SELECT kind, width, height, duration_ms, metadata_error FROM media").fetchall()
    finally:
        conn.close()
    assert result["ok"] + result["failed"] == len(rows) and result["skipped"] == 0
    kinds_of_failure = {r[4].split(":")[0] for r in rows if r[4] is not None}
    assert kinds_of_failure == {"truncated image", "not a video file", "empty file (0 bytes)", "file not found"}
    assert result["failed"] == 4
    for kind, width, height, duration, error in rows:
        if error is None and kind == "audio":
            assert width is None and height is None and duration > 0
        elif error is None:
            assert width > 0 and height > 0
            assert kind == "image" or duration > 0


@pytest.fixture
def platform(any_platform):
    """Every known-answer test of this module runs on SQLite and on PostgreSQL."""
    return any_platform
