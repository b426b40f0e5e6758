"""``jobctl demo``: a complete, deterministic synthetic dating platform for trying jobctl.

Users with names, places, bios and latent personalities; the 50 IPIP Big-Five items and
forty matching questions with answers that follow those personalities; interests in
clusters; follows, blocks, posts with hashtags, likes, comments and shares; drifted counter
caches; and real image, audio and video files, including orphans and broken uploads.
"""

from .build import build_demo

__all__ = ["build_demo"]
