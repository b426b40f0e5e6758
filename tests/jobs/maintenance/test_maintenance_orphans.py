"""media-orphan-cleanup: exactly the old unattached rows and stray files go; nothing else is touched.

NOW = 2026-11-29T03:00:00Z and grace_hours 24: rows created and files modified before
2026-11-28T03:00:00Z are old.
"""

import os
from datetime import datetime, timezone
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from builders import NOW, Platform, run_job
from jobctl.errors import JobFailed
from jobctl.jobs import maintenance
from jobctl.jobs.maintenance import fs as maintenance_fs
from jobctl.jobs.maintenance.fs import UnsafePath, split_media_path

OLD = datetime(2026, 11, 1, tzinfo=timezone.utc).timestamp()
RECENT = datetime(2026, 11, 29, 2, 0, tzinfo=timezone.utc).timestamp()
OLD_TS, RECENT_TS = "2026-11-01T00:00:00Z", "2026-11-28T12:00:00Z"


def touch(path: Path, content: bytes = b"x", mtime: float = OLD) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    os.utime(path, (mtime, mtime))
    return path


def build(p, outside: Path) -> dict:
    """A platform with every kind of media the job must tell apart, and things outside the root."""
    m = p.media_root
    secret = touch(outside / "secret.txt", b"top secret")
    touch(outside / "dir" / "old.jpg", b"outside image")
    alice = p.user()
    avatar = p.media(alice, "avatars/alice.jpg", created_at=OLD_TS, content=b"alice")
    p.conn.execute("UPDATE users SET avatar_media_id = ? WHERE id = ?", (avatar, alice))
    bob = p.user(deleted_at="2026-11-10T00:00:00Z")
    bob_avatar = p.media(bob, "avatars/bob.jpg", created_at=OLD_TS, content=b"bob!")
    p.conn.execute("UPDATE users SET avatar_media_id = ? WHERE id = ?", (bob_avatar, bob))
    live_post = p.post(alice, "hello")
    gone_post = p.post(alice, "bye", deleted_at="2026-11-20T00:00:00Z")
    ids = dict(avatar=avatar, bob_avatar=bob_avatar)
    ids["post"] = p.media(alice, "posts/p1.jpg", created_at=OLD_TS, content=b"p1")
    ids["post_alias"] = p.media(alice, "posts/./p3.jpg", created_at=OLD_TS)   # names posts/p3.jpg
    touch(m / "posts" / "p3.jpg", b"p3")
    ids["deleted_post"] = p.media(alice, "posts/p2.jpg", created_at=OLD_TS, content=b"p2p2p2")
    for media_id, post in ((ids["post"], live_post), (ids["post_alias"], live_post), (ids["deleted_post"], gone_post)):
        p.insert("post_media", post_id=post, media_id=media_id)
    ids["old"] = p.media(alice, "uploads/old.jpg", created_at=OLD_TS, content=b"old!!")
    ids["recent"] = p.media(alice, "uploads/recent.jpg", created_at=RECENT_TS, content=b"recent")
    ids["no_file"] = p.media(alice, "uploads/missing.jpg", created_at=OLD_TS)
    touch(m / "stray" / "old.bin", b"strayyy")
    touch(m / "stray" / "new.bin", b"in progress", mtime=RECENT)
    os.symlink(secret, m / "link_to_secret")
    os.utime(m / "link_to_secret", (OLD, OLD), follow_symlinks=False)
    os.symlink(outside / "dir", m / "link_dir")
    (m / "emptydir").mkdir()
    os.utime(m / "emptydir", (OLD, OLD))
    # Hostile or odd rows, all old and unattached: none may be acted on.
    for f in ("avatars/alice.jpg", "avatars/bob.jpg", "posts/p1.jpg", "posts/p2.jpg", "uploads/old.jpg"):
        os.utime(m / f, (OLD, OLD))     # files as old as their rows
    ids["dotdot"] = p.media(alice, "../outside/secret.txt", created_at=OLD_TS)
    ids["absolute"] = p.media(alice, str(secret), created_at=OLD_TS)
    ids["through_link"] = p.media(alice, "link_dir/old.jpg", created_at=OLD_TS)
    ids["is_link"] = p.media(alice, "link_to_secret", created_at=OLD_TS)
    ids["is_dir"] = p.media(alice, "emptydir", created_at=OLD_TS)
    return ids


def tree(root: Path) -> dict:
    """Every entry under root (not following links): path → file bytes, 'dir' or 'link → target'."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = Path(dirpath) / name
            rel = str(full.relative_to(root))
            if full.is_symlink():
                out[rel] = f"link -> {os.readlink(full)}"
            elif full.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = full.read_bytes()
    return out


@pytest.fixture
def scene(platform, tmp_path):
    outside = tmp_path / "outside"
    ids = build(platform, outside)
    return platform, ids, outside


def media_ids(p) -> set:
    return {r[0] for r in p.rows("SELECT id FROM media")}


def test_deletes_exactly_old_unattached_rows_and_old_strays(scene):
    p, ids, outside = scene
    before_outside = tree(outside)
    result = run_job(p, maintenance.media_orphan_cleanup)
    gone = {ids["bob_avatar"], ids["deleted_post"], ids["old"], ids["no_file"]}
    assert media_ids(p) == set(ids.values()) - gone
    assert sorted(r["id"] for r in result["deleted_rows"]) == sorted(gone)
    assert sorted(f["path"] for f in result["deleted_files"]) == [
        "avatars/bob.jpg", "posts/p2.jpg", "stray/old.bin", "uploads/old.jpg"]
    assert (result["rows_deleted"], result["files_deleted"], result["stray_files_deleted"],
            result["bytes_freed"], result["rows_without_file"]) == (4, 4, 1, 4 + 6 + 5 + 7, 1)
    after = tree(p.media_root)
    assert after == {
        "avatars": "dir", "avatars/alice.jpg": b"alice",
        "posts": "dir", "posts/p1.jpg": b"p1", "posts/p3.jpg": b"p3",
        "uploads": "dir", "uploads/recent.jpg": b"recent",
        "stray": "dir", "stray/new.bin": b"in progress",
        "emptydir": "dir",
        "link_to_secret": f"link -> {outside / 'secret.txt'}",
        "link_dir": f"link -> {outside / 'dir'}",
    }
    assert tree(outside) == before_outside
    reasons = {s["path"]: s["reason"] for s in result["skipped"]}
    assert set(reasons) == {"link_to_secret", "link_dir", "../outside/secret.txt", str(outside / "secret.txt"),
                            "link_dir/old.jpg", "emptydir"}
    assert result["skipped_count"] == 7          # link_to_secret twice: as a row and as an entry
    assert "symbolic link" in reasons["link_dir"]
    assert "'..'" in reasons["../outside/secret.txt"]
    assert "absolute" in reasons[str(outside / "secret.txt")]
    assert "outside the media root" in reasons["link_dir/old.jpg"]
    assert "directories are never deleted" in reasons["emptydir"]


def test_symlinks_inside_the_root_leave_their_targets_untouched(scene):
    p, ids, outside = scene
    run_job(p, maintenance.media_orphan_cleanup, grace_hours=0)
    assert (outside / "secret.txt").read_bytes() == b"top secret"
    assert (outside / "dir" / "old.jpg").read_bytes() == b"outside image"
    assert os.readlink(p.media_root / "link_to_secret") == str(outside / "secret.txt")
    assert os.readlink(p.media_root / "link_dir") == str(outside / "dir")
    assert {ids["dotdot"], ids["absolute"], ids["through_link"], ids["is_link"]} <= media_ids(p)


def test_dry_run_reports_the_same_lists_and_deletes_nothing(scene, tmp_path):
    p, ids, outside = scene
    rows_before, files_before = media_ids(p), tree(p.media_root)
    dry = run_job(p, maintenance.media_orphan_cleanup, dry_run=True)
    assert media_ids(p) == rows_before and tree(p.media_root) == files_before
    real = run_job(p, maintenance.media_orphan_cleanup)
    assert dry.pop("dry_run") is True and real.pop("dry_run") is False
    assert dry == real
    assert real["rows_deleted"] == 4


def test_grace_period_protects_recent_uploads(scene):
    p, ids, _ = scene
    run_job(p, maintenance.media_orphan_cleanup, grace_hours=24 * 60)          # cutoff 2026-09-30: everything is too recent
    assert len(media_ids(p)) == len(ids)
    assert (p.media_root / "stray" / "old.bin").exists()
    run_job(p, maintenance.media_orphan_cleanup, grace_hours=0)                # everything unattached goes, recent ones included
    assert ids["recent"] not in media_ids(p) and not (p.media_root / "stray" / "new.bin").exists()
    assert ids["avatar"] in media_ids(p) and ids["post"] in media_ids(p)


def test_a_file_that_cannot_be_deleted_is_reported_and_the_job_goes_on(scene, monkeypatch):
    p, ids, _ = scene
    real_unlink = maintenance_fs.unlink_at

    def refuse(dir_fd, name):
        if name in ("old.jpg", "old.bin"):
            raise PermissionError(13, "Permission denied")
        real_unlink(dir_fd, name)

    monkeypatch.setattr(maintenance_fs, "unlink_at", refuse)
    result = run_job(p, maintenance.media_orphan_cleanup)
    reasons = {s["path"]: s["reason"] for s in result["skipped"]}
    assert reasons["uploads/old.jpg"].startswith("cannot delete file: Permission denied")
    assert reasons["stray/old.bin"].startswith("cannot delete file: Permission denied")
    assert (p.media_root / "uploads" / "old.jpg").exists() and (p.media_root / "stray" / "old.bin").exists()
    assert not (p.media_root / "avatars" / "bob.jpg").exists()     # the others went on
    assert result["files_deleted"] == 2
    # The row went (its file is now untracked): once deletable, a later run removes it as a stray.
    monkeypatch.setattr(maintenance_fs, "unlink_at", real_unlink)
    again = run_job(p, maintenance.media_orphan_cleanup)
    assert sorted(f["path"] for f in again["deleted_files"]) == ["stray/old.bin", "uploads/old.jpg"]


def test_a_row_attached_during_the_run_is_kept(scene, monkeypatch):
    p, ids, _ = scene
    from jobctl.jobs.maintenance import orphans as maintenance_orphans
    original = maintenance_orphans._plan_row

    def plan_then_attach(root, media_id, path, report):
        planned = original(root, media_id, path, report)
        if media_id == ids["old"]:     # the platform attaches it after the job picked it
            p.insert("post_media", post_id=p.post(1, "now with a photo"), media_id=media_id)
        return planned

    monkeypatch.setattr(maintenance_orphans, "_plan_row", plan_then_attach)
    run_job(p, maintenance.media_orphan_cleanup)
    assert ids["old"] in media_ids(p)
    assert (p.media_root / "uploads" / "old.jpg").read_bytes() == b"old!!"


def test_a_stray_registered_during_the_run_is_kept(scene, monkeypatch):
    p, ids, _ = scene
    from jobctl.jobs.maintenance import orphans as maintenance_orphans
    original = maintenance_orphans._find_strays

    def find_then_register(root, named, cutoff_ts, report):
        strays = original(root, named, cutoff_ts, report)
        p.media(1, "stray/old.bin", created_at=NOW)
        return strays

    monkeypatch.setattr(maintenance_orphans, "_find_strays", find_then_register)
    result = run_job(p, maintenance.media_orphan_cleanup)
    assert (p.media_root / "stray" / "old.bin").exists()
    assert {"path": "stray/old.bin", "reason": "a media row now names this file; kept"} in result["skipped"]


def two_platforms(tmp_path):
    out = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        out.append(Platform(tmp_path / name))
    return out


def _state(p):
    """Media rows and files, with the platform's own directory written as '<top>' (comparable)."""
    top = str(p.media_root.parent)
    rows = sorted(r[0].replace(top, "<top>") for r in p.rows("SELECT path FROM media"))
    files = {k: v.replace(top, "<top>") if isinstance(v, str) else v for k, v in tree(p.media_root).items()}
    return rows, files


@pytest.mark.sqlite_only("the platform as a file")
def test_the_platform_database_inside_the_media_root_survives(platform, tmp_path):
    db = platform.path
    touch(tmp_path / "old.txt", b"stray at the root")
    for f in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        if f.exists():
            os.utime(f, (OLD, OLD))
    result = run_job(platform, maintenance.media_orphan_cleanup, media_root=tmp_path)
    assert db.exists() and not (tmp_path / "old.txt").exists()
    assert platform.rows("SELECT COUNT(*) FROM users") == [(0,)]     # still a working database
    assert any(s["reason"] == "the platform database; never deleted" for s in result["skipped"])


def test_hard_linked_stray_is_left_alone(platform, tmp_path):
    outside = touch(tmp_path / "outside.bin", b"keep me")
    os.link(outside, platform.media_root / "hardlink.bin")
    os.utime(platform.media_root / "hardlink.bin", (OLD, OLD))
    result = run_job(platform, maintenance.media_orphan_cleanup)
    assert (platform.media_root / "hardlink.bin").exists() and outside.read_bytes() == b"keep me"
    assert result["skipped"][0]["reason"].startswith("file has 2 hard links")


def test_media_root_given_through_a_symlink_works(platform, tmp_path):
    touch(platform.media_root / "gone.bin")
    os.symlink(platform.media_root, tmp_path / "alias")
    result = run_job(platform, maintenance.media_orphan_cleanup, media_root=tmp_path / "alias")
    assert result["files_deleted"] == 1 and not (platform.media_root / "gone.bin").exists()


def test_a_missing_media_root_fails_cleanly(platform, tmp_path):
    platform.media(platform.user(), "x.jpg", created_at=OLD_TS)
    with pytest.raises(JobFailed, match="does not exist"):
        run_job(platform, maintenance.media_orphan_cleanup, media_root=tmp_path / "nowhere")
    assert platform.rows("SELECT COUNT(*) FROM media") == [(1,)]


def test_split_media_path_refuses_escapes():
    assert split_media_path("a//./b.jpg") == ("a", "b.jpg")
    for bad in ("", "/etc/passwd", "../x", "a/../../x", "a/..", ".", "a\x00b"):
        with pytest.raises(UnsafePath):
            split_media_path(bad)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab./\\~ ", max_size=12))
def test_any_accepted_path_stays_below_the_root(path):
    try:
        parts = split_media_path(path)
    except UnsafePath:
        return
    root = "/srv/media"
    joined = os.path.normpath(os.path.join(root, *parts))
    assert joined.startswith(root + "/") and ".." not in parts


def test_stray_transactions_are_cut_short_without_changing_the_outcome(tmp_path, monkeypatch):
    from jobctl.jobs.maintenance import orphans as maintenance_orphans
    clean, cut = two_platforms(tmp_path)
    for p in (clean, cut):
        for i in range(5):
            touch(p.media_root / f"stray{i}.bin")
    begun = []
    real_transaction = maintenance_orphans.__dict__.get("_strays_in_one_transaction")

    def counting(*args):
        begun.append(1)
        return real_transaction(*args)

    run_job(clean, maintenance.media_orphan_cleanup)
    monkeypatch.setattr(maintenance_orphans, "STRAY_TX_SECONDS", -1)    # commit after every file
    monkeypatch.setattr(maintenance_orphans, "_strays_in_one_transaction", counting)
    result = run_job(cut, maintenance.media_orphan_cleanup)
    assert len(begun) == 5 and result["stray_files_deleted"] == 5
    assert _state(cut) == _state(clean)


@pytest.fixture
def platform(any_platform):
    """Every known-answer test of this module runs on SQLite and on PostgreSQL."""
    return any_platform
