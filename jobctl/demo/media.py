"""Media rows (avatars, post attachments, orphans, broken uploads) and their files.

Every demo file lives under ``media_root/u/<owner id>/`` (:data:`DEMO_DIR`), the only
folder the demo creates, clears or writes. File mtimes equal the row's created_at.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .content import Posts
from .mediafiles import Templates
from .people import Users
from .rand import DAY, HOUR, NO_TS, pystream, stream

DEMO_DIR = "u"
#: format -> (kind, mime, file extension)
FORMATS = {
    "jpeg": ("image", "image/jpeg", "jpg"), "png": ("image", "image/png", "png"),
    "gif": ("image", "image/gif", "gif"), "mp4": ("video", "video/mp4", "mp4"),
    "wav": ("audio", "audio/wav", "wav"), "truncated": ("image", "image/jpeg", "jpg"),
    "text": ("video", "video/mp4", "mp4"), "empty": ("image", "image/png", "png"),
    "missing": ("image", "image/jpeg", "jpg"),
}
SPECIAL = ("truncated", "text", "empty", "missing")


@dataclass
class Item:
    fmt: str
    role: str                   # 'avatar' | 'post' | 'orphan_old' | 'orphan_new'
    owner: int = -1             # user index
    created: int = 0
    variant: int = 0
    post: int = -1              # post index when attached
    position: int = 0
    path: str = ""
    id: int = 0
    pinned: bool = False        # must stay attached to a live post (broken files, the rotated JPEG)


@dataclass
class MediaPlan:
    items: list[Item]                                   # in id order
    strays: list[tuple[str, int]] = field(default_factory=list)   # (path, mtime): files without rows
    avatar_of: dict[int, int] = field(default_factory=dict)      # user index -> media id


def plan_media(seed: int, users: Users, posts: Posts, now_s: int, templates: Templates) -> MediaPlan:
    rng, r = stream(seed, "media"), pystream(seed, "media")
    n_valid = max(users.n // 20 - len(SPECIAL), 9)
    n_video = max(3, round(.12 * n_valid))
    n_audio = max(3, round(.13 * n_valid))
    n_image = n_valid - n_video - n_audio
    image_fmt = ["jpeg", "png", "gif"] + r.choices(["jpeg", "png", "gif"], [.7, .22, .08], k=n_image - 3)
    items = [Item(f, _role(r, True)) for f in image_fmt]
    items += [Item("mp4", _role(r, False)) for _ in range(n_video)]
    items += [Item("wav", _role(r, False)) for _ in range(n_audio)]
    for role, k in (("orphan_old", 0), ("orphan_new", 1)):   # at least one of each
        if not any(it.role == role for it in items):
            items[3 + k].role = role
    items += [Item(f, "post", pinned=True) for f in SPECIAL]
    for it in items:
        it.variant = r.randrange(templates.count("jpeg" if it.fmt == "truncated" else it.fmt))
    items[0].variant, items[0].role, items[0].pinned = 0, "post", True   # EXIF orientation 6

    _place_avatars(rng, users, [it for it in items if it.role == "avatar"])
    _place_on_posts(rng, users, posts, [it for it in items if it.role == "post"])
    _place_orphans(rng, r, users, now_s, items)

    items.sort(key=lambda it: (it.created, it.owner, it.fmt, it.variant))
    taken: set[str] = set()
    for i, it in enumerate(items, 1):
        it.id = i
        it.path = _path(r, it.owner, FORMATS[it.fmt][2], taken)
    avatar_of = {it.owner: it.id for it in items if it.role == "avatar"}
    strays = []
    for ago in (10 * DAY + r.randrange(DAY), HOUR):     # an old leftover, an upload in progress
        owner = r.randrange(users.n)
        strays.append((_path(r, owner, "jpg", taken), now_s - ago))
    return MediaPlan(items, strays, avatar_of)


def _role(r, image: bool) -> str:
    x = r.random()
    if x < .06:
        return "orphan_old"
    if x < .11:
        return "orphan_new"
    return "avatar" if image and x < .46 else "post"


def _uniform(rng, lo: np.ndarray | int, hi: np.ndarray | int) -> int:
    return int(lo + rng.random() * max(int(hi) - int(lo), 0))


def _place_avatars(rng, users: Users, avatars: list[Item]) -> None:
    if not avatars:
        return
    w = np.array([1.0, .5, .2])[users.activity]
    owners = rng.choice(users.n, min(len(avatars), users.n), replace=False, p=w / w.sum())
    for it, u in zip(avatars, owners.tolist()):
        it.owner, it.created = u, _uniform(rng, users.created[u], users.active_until[u])
    for it in avatars[len(owners):]:                    # more avatars than users: keep as uploads
        it.role = "orphan_old"


def _place_on_posts(rng, users: Users, posts: Posts, attached: list[Item]) -> None:
    """Images in albums of one to four, videos and audio one per post; pinned files one per
    live post."""
    order = rng.permutation(len(posts)).tolist()
    live = [p for p in order if posts.deleted[p] == NO_TS]
    special = [it for it in attached if it.pinned]
    normal = [it for it in attached if not it.pinned]
    next_pos: dict[int, int] = {}
    i = used = 0
    while i < len(normal):
        albums = normal[i].fmt in ("jpeg", "png")
        size = int(rng.choice([1, 2, 3, 4], p=[.7, .15, .1, .05])) if albums else 1
        group = [normal[i]]
        while len(group) < size and i + len(group) < len(normal) and normal[i + len(group)].fmt in ("jpeg", "png"):
            group.append(normal[i + len(group)])
        p = order[used % len(order)] if order else -1   # more groups than posts: share posts
        used += 1
        _attach(rng, users, posts, group, p, next_pos)
        i += len(group)
    for k, it in enumerate(special):
        p = live[-1 - k] if len(live) > k else (order[k % len(order)] if order else -1)
        _attach(rng, users, posts, [it], p, next_pos)


def _attach(rng, users, posts, group: list[Item], p: int, next_pos: dict[int, int]) -> None:
    for it in group:
        if p < 0:                                       # no posts at all: an unattached upload
            it.role = "orphan_old"
            continue
        author = int(posts.author[p])
        it.owner, it.post = author, p
        it.position = next_pos.get(p, 0) + 1
        next_pos[p] = it.position
        it.created = max(int(users.created[author]), int(posts.created[p]) - int(rng.integers(10, 1800)))


def _place_orphans(rng, r, users: Users, now_s: int, items: list[Item]) -> None:
    """Unattached uploads: recent ones (a post being written) and old ones (abandoned or
    replaced avatars), which media-orphan-cleanup should delete after its grace period."""
    recent = np.flatnonzero(users.active_until >= now_s - 20 * HOUR)
    old_enough = np.flatnonzero(users.created <= now_s - 3 * DAY)
    for it in items:
        if it.role == "orphan_new":
            u = int(r.choice(recent)) if len(recent) else r.randrange(users.n)
            lo = max(int(users.created[u]), now_s - 20 * HOUR)
            it.owner, it.created = u, _uniform(rng, lo, max(lo, users.active_until[u]))
        elif it.role == "orphan_old":
            u = int(r.choice(old_enough)) if len(old_enough) else r.randrange(users.n)
            hi = min(int(users.active_until[u]), now_s - 3 * DAY)
            it.owner, it.created = u, _uniform(rng, min(int(users.created[u]), hi), hi)


def _path(r, owner: int, ext: str, taken: set[str]) -> str:
    while True:
        path = f"{DEMO_DIR}/{owner + 1}/{r.getrandbits(64):016x}.{ext}"
        if path not in taken:
            taken.add(path)
            return path


def write_media(root: Path, plan: MediaPlan, templates: Templates) -> tuple[int, int]:
    """Write every planned file (not the 'missing' one) and the strays; returns (files, bytes)."""
    files = total = 0
    made: set[Path] = set()
    jobs = [(it.path, templates.file_bytes(it.fmt, it.variant, it.id), it.created)
            for it in plan.items if it.fmt != "missing"]
    jobs += [(path, templates.file_bytes("jpeg", k % templates.count("jpeg"), -k - 1), mtime)
             for k, (path, mtime) in enumerate(plan.strays)]
    for rel, data, mtime in jobs:
        target = root.joinpath(*rel.split("/"))
        if target.parent not in made:
            target.parent.mkdir(parents=True, exist_ok=True)
            made.add(target.parent)
        with open(target, "xb") as fh:                  # never overwrite: the folder was cleared
            fh.write(data)
        os.utime(target, (mtime, mtime))
        files += 1
        total += len(data)
    return files, total
