"""Bytes of the demo's media files: real JPEG/PNG/GIF images, WAV audio and MP4 video.

Encoding thousands of files would be slow, so each image and video format is rendered a
handful of times and every file gets a copy with a small ignorable chunk (a JPEG comment,
a PNG text chunk, a GIF comment, an MP4 'free' box) that makes its bytes unique. WAV files
are cheap and are synthesised one by one. All of it is deterministic for a given seed.
"""

from __future__ import annotations

import io
import struct
import wave
import zlib

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from .rand import stream

# (stored width, stored height, EXIF orientation or None): 6 and 8 display rotated by 90°
JPEG_SHAPES = [(640, 480, 6), (480, 640, None), (640, 360, 8), (320, 240, None), (400, 400, 1),
               (600, 400, None), (512, 384, 6), (256, 256, None), (200, 300, None), (640, 427, 3),
               (480, 320, 8), (160, 120, None)]
PNG_SHAPES = [(320, 240, "RGB"), (128, 128, "RGBA"), (256, 192, "P"), (400, 300, "RGB")]
GIF_SHAPES = [(96, 96, 6, 100), (160, 120, 10, 80)]          # w, h, frames, ms per frame
# w, h, frames, fps; sides are multiples of 16 (whole macroblocks: with a partial one, libx264
# output was seen to vary from run to run)
MP4_SHAPES = [(160, 128, 15, 10), (256, 144, 20, 10), (128, 160, 12, 8)]

TEXT_AS_MP4 = b"This is not a video. Someone renamed a text file to .mp4 before uploading it.\n"


class Templates:
    """Rendered once per demo build; :meth:`file_bytes` makes each file's unique copy."""

    def __init__(self, seed: int):
        rng = stream(seed, "media-templates")
        self.jpeg = [_jpeg(rng, w, h, o) for w, h, o in JPEG_SHAPES]
        self.png = [_png(rng, w, h, mode) for w, h, mode in PNG_SHAPES]
        self.gif = [_gif(rng, *shape) for shape in GIF_SHAPES]
        self.mp4 = [_mp4(rng, *shape) for shape in MP4_SHAPES]
        self.seed = seed

    def count(self, fmt: str) -> int:
        return len(getattr(self, fmt)) if fmt in ("jpeg", "png", "gif", "mp4") else 1

    def file_bytes(self, fmt: str, variant: int, media_id: int) -> bytes:
        tag = f"jobctl demo media {media_id}".encode()
        if fmt == "jpeg":
            return _jpeg_with_comment(self.jpeg[variant], tag)
        if fmt == "png":
            return _png_with_text(self.png[variant], tag)
        if fmt == "gif":
            data = self.gif[variant]
            return data[:-1] + b"\x21\xfe" + bytes([len(tag)]) + tag + b"\x00;"
        if fmt == "mp4":
            return self.mp4[variant] + struct.pack(">I4s", 8 + len(tag), b"free") + tag
        if fmt == "wav":
            return _wav(stream(self.seed, f"wav-{media_id}"))
        if fmt == "truncated":                   # an upload cut off mid-scan
            data = _jpeg_with_comment(self.jpeg[variant], tag)
            return data[: len(data) * 2 // 5]
        if fmt == "text":
            return TEXT_AS_MP4
        if fmt == "empty":
            return b""
        raise ValueError(f"unknown media format {fmt!r}")


def _photo(rng, w: int, h: int) -> Image.Image:
    """A smooth, photo-like picture: a two-colour gradient with soft shapes (compresses well)."""
    c1, c2 = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
    t = (np.linspace(0, 1, w)[None, :] * .6 + np.linspace(0, 1, h)[:, None] * .4)[..., None]
    img = Image.fromarray((c1 * (1 - t) + c2 * t).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(3, 7))):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        r = int(rng.integers(min(w, h) // 10, min(w, h) // 3))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        (draw.ellipse if rng.random() < .6 else draw.rectangle)((x - r, y - r, x + r, y + r), fill=colour)
    return img.filter(ImageFilter.GaussianBlur(3))


def _jpeg(rng, w: int, h: int, orientation: int | None) -> bytes:
    buf = io.BytesIO()
    if orientation is None:
        _photo(rng, w, h).save(buf, "JPEG", quality=75)
    else:
        exif = Image.Exif()
        exif[0x010F], exif[0x0110], exif[0x0112] = "DemoPhone", "Model 7", orientation
        _photo(rng, w, h).save(buf, "JPEG", quality=75, exif=exif.tobytes())
    return buf.getvalue()


def _png(rng, w: int, h: int, mode: str) -> bytes:
    """Flat, screenshot-like art: solid blocks and a caption."""
    img = Image.new("RGBA" if mode == "RGBA" else "RGB", (w, h),
                    (255, 255, 255, 0) if mode == "RGBA" else (245, 245, 240))
    draw = ImageDraw.Draw(img)
    for _ in range(6):
        x0, y0 = int(rng.integers(0, w - 8)), int(rng.integers(0, h - 8))
        x1, y1 = x0 + int(rng.integers(8, w // 2)), y0 + int(rng.integers(8, h // 2))
        draw.rectangle((x0, y0, x1, y1), fill=tuple(int(v) for v in rng.integers(0, 256, 3)) + (255,))
    draw.text((6, h - 16), "demo", fill=(20, 20, 20, 255))
    if mode == "P":
        img = img.convert("P", palette=Image.Palette.ADAPTIVE, colors=32)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _gif(rng, w: int, h: int, frames: int, ms: int) -> bytes:
    bg = tuple(int(v) for v in rng.integers(0, 256, 3))
    fg = tuple(int(v) for v in rng.integers(0, 256, 3))
    images = []
    for i in range(frames):
        img = Image.new("RGB", (w, h), bg)
        x = int((w - 20) * i / max(frames - 1, 1)) + 10
        ImageDraw.Draw(img).ellipse((x - 10, h // 2 - 10, x + 10, h // 2 + 10), fill=fg)
        images.append(img.convert("P", palette=Image.Palette.ADAPTIVE, colors=16))
    buf = io.BytesIO()
    images[0].save(buf, "GIF", save_all=True, append_images=images[1:], duration=ms, loop=0)
    return buf.getvalue()


def _wav(rng) -> bytes:
    """A short voice-note-like tone sequence: 8 or 16 kHz, 16-bit mono, 0.6-2.5 s."""
    rate = int(rng.choice([8000, 16000]))
    n = int(rate * rng.uniform(.6, 2.5))
    t = np.arange(n) / rate
    freq = rng.uniform(180, 600) * (1 + .2 * np.sin(2 * np.pi * rng.uniform(.5, 3) * t))
    signal = np.sin(2 * np.pi * np.cumsum(freq) / rate) * np.minimum(1, np.minimum(t, t[-1] - t) * 20)
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((signal * 12000).astype("<i2").tobytes())
    return buf.getvalue()


def _mp4(rng, w: int, h: int, frames: int, fps: int) -> bytes:
    """A 1-2 s clip: libx264 where FFmpeg has it, else MPEG-4 Part 2. Each clip is encoded
    twice and a codec whose two outputs differ is skipped, so the demo stays reproducible."""
    colours = rng.integers(0, 256, (2, 3))
    errors = []
    for codec in ("libx264", "mpeg4"):
        try:
            data = _encode(codec, colours, w, h, frames, fps)
            if _encode(codec, colours, w, h, frames, fps) == data:
                return data
            errors.append(f"{codec}: output differs between runs")
        except Exception as exc:  # codec missing from this FFmpeg build
            errors.append(f"{codec}: {exc}")
    raise RuntimeError(f"cannot encode an MP4 demo clip ({'; '.join(errors)})")


def _encode(codec: str, colours: np.ndarray, w: int, h: int, frames: int, fps: int) -> bytes:
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        st = out.add_stream(codec, rate=fps)
        st.width, st.height, st.pix_fmt = w, h, "yuv420p"
        st.codec_context.thread_count = 1          # threads would make the bytes vary
        if codec == "libx264":
            st.codec_context.options = {"preset": "veryfast", "crf": "30"}
        xs = np.arange(w)[None, :, None]
        for i in range(frames):                    # a colour gradient sliding sideways
            phase = (xs + i * 6) % w / w
            frame = np.broadcast_to(colours[0] * (1 - phase) + colours[1] * phase, (h, w, 3))
            for packet in st.encode(av.VideoFrame.from_ndarray(frame.astype(np.uint8), format="rgb24")):
                out.mux(packet)
        for packet in st.encode():
            out.mux(packet)
    return buf.getvalue()


def _jpeg_with_comment(data: bytes, text: bytes) -> bytes:
    """Insert a COM segment after the APPn segments (EXIF must stay first)."""
    pos = 2
    while data[pos] == 0xFF and 0xE0 <= data[pos + 1] <= 0xEF:
        pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
    return data[:pos] + b"\xff\xfe" + (len(text) + 2).to_bytes(2, "big") + text + data[pos:]


def _png_with_text(data: bytes, text: bytes) -> bytes:
    body = b"tEXt" + b"Comment\x00" + text
    chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body))
    return data[:-12] + chunk + data[-12:]          # before IEND
