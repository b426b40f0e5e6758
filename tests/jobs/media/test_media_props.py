"""Properties of the media probe: any damage is reported, nothing escapes the media root."""

from __future__ import annotations

import io
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import ExifTags, Image

from jobctl.jobs.media.probing import MAGIC, Metadata, MediaError, probe, probe_image

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _save(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _frames(n: int) -> list[Image.Image]:
    return [Image.new("RGB", (12, 8), ((60 * i) % 256, 255 - 40 * i, 90)) for i in range(n)]


SAMPLES = {
    "jpeg": _save(Image.linear_gradient("L").resize((40, 24)).convert("RGB"), "JPEG", quality=90),
    "progressive jpeg": _save(Image.linear_gradient("L").resize((40, 24)), "JPEG", progressive=True),
    "png": _save(Image.linear_gradient("L").resize((20, 12)), "PNG"),
    "gif": _save(_frames(1)[0], "GIF"),
    "animated gif": _save(_frames(3)[0], "GIF", save_all=True, append_images=_frames(3)[1:], duration=[40, 50, 60]),
    "animated png": _save(_frames(3)[0], "PNG", save_all=True, append_images=_frames(3)[1:], duration=[40, 50, 60]),
    "webp": _save(_frames(1)[0], "WEBP"),
    "bmp": _save(_frames(1)[0], "BMP"),
    "tiff": _save(_frames(1)[0], "TIFF"),
}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_sample_reads_whole(name):
    meta = probe_image(io.BytesIO(SAMPLES[name]), "x", len(SAMPLES[name]))
    assert meta.size_bytes == len(SAMPLES[name]) and meta.width > 0 and meta.height > 0
    assert meta.duration_ms == (150 if name.startswith("animated") else None)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_an_image_cut_at_any_byte_is_reported(name):
    whole = SAMPLES[name]  # small enough to try every cut
    for cut in range(1, len(whole)):
        with pytest.raises(MediaError) as info:
            probe_image(io.BytesIO(whole[:cut]), "x.img", cut)
        assert str(info.value).split(": ")[0] in ("truncated image", "corrupt image", "not an image file")


@FAST
@given(w=st.integers(1, 48), h=st.integers(1, 48), orientation=st.integers(1, 8))
def test_displayed_size_follows_the_exif_orientation(w, h, orientation):
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    data = _save(Image.new("RGB", (w, h), (1, 2, 3)), "JPEG", exif=exif)
    shown = (h, w) if orientation >= 5 else (w, h)
    assert probe_image(io.BytesIO(data), "x.jpg", len(data)) == Metadata(len(data), *shown)


@FAST
@given(kind=st.sampled_from(["image", "video", "audio"]),
       prefix=st.sampled_from([b""] + [m for m, _ in MAGIC] + [b"RIFF\x00\x00\x00\x00WEBP", b"\x00\x00\x00\x20ftypisom"]),
       body=st.binary(max_size=300))
def test_arbitrary_bytes_give_metadata_or_a_media_error(tmp_path_factory, kind, prefix, body):
    root = tmp_path_factory.mktemp("root")
    (root / "f").write_bytes(prefix + body)
    try:
        meta = probe(str(root.resolve()), "f", kind)
    except MediaError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert meta.size_bytes == len(prefix + body)


SEGMENTS = ["..", ".", "a", "b", "up", "inside.png", "outside.png", "ghost"]


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    """base/{outside.png, root/{inside.png, a/inside.png, a/up -> ../.., b -> a}}"""
    base = tmp_path_factory.mktemp("tree").resolve()
    root = base / "root"
    (root / "a").mkdir(parents=True)
    png = SAMPLES["png"]
    for p in (base / "outside.png", root / "inside.png", root / "a" / "inside.png"):
        p.write_bytes(png)
    os.symlink("../..", root / "a" / "up")
    os.symlink("a", root / "b")
    return base, root


@settings(max_examples=150, deadline=None)
@given(parts=st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=6))
def test_only_files_inside_the_media_root_are_read(tree, parts):
    base, root = tree
    rel = "/".join(parts)
    real = os.path.realpath(os.path.join(root, rel))
    inside = os.path.commonpath([str(root), real]) == str(root)
    try:
        probe(str(root), rel, "image")
    except MediaError as exc:
        if not inside:
            assert str(exc) == f"path leads outside the media root: {rel}"
    else:
        assert inside and os.path.isfile(real)
