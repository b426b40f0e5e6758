"""jobctl demo: a small synthetic platform, checked table by table and file by file."""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from PIL import Image, ImageOps
from pymediainfo import MediaInfo

from builders import NOW as NOW_TS
from jobctl.demo import build_demo
from jobctl.demo import media as demo_media
from jobctl.demo.rand import NO_TS, ts_strings
from jobctl.errors import DatabaseError, UsageError
from jobctl.schema import INDEXES, expected_columns
from jobctl.timeutil import age_on, fmt_ts, parse_ts

NOW = parse_ts(NOW_TS)
USERS = 300
TS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
PHONE = re.compile(r"(\+\d{1,3}[\s-]?)?\(?\d{2,4}\)?[\s-]?\d{2,4}[\s-]?\d{2,4}([\s-]?\d{2})?")


def ts(dt: datetime) -> str:
    return fmt_ts(dt)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    counts = build_demo(root / "platform.db", root / "media", USERS, seed=7, now=NOW)
    conn = sqlite3.connect(root / "platform.db")
    yield root, conn, counts
    conn.close()


def rows(conn, sql, *args):
    return conn.execute(sql, args).fetchall()


def one(conn, sql, *args):
    return conn.execute(sql, args).fetchone()[0]


def dump(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


def media_fingerprint(media_root: Path) -> dict[str, tuple[str, int]]:
    return {p.relative_to(media_root).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
            for p in sorted(media_root.rglob("*")) if p.is_file()}


def epoch(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# ---------------------------------------------------------------- schema and counts

def test_schema_matches_the_contract_column_by_column(demo):
    _, conn, counts = demo
    expected = expected_columns()
    for table, columns in expected.items():
        have = [r[1] for r in conn.execute(f'PRAGMA table_info("{table}")')]
        assert have == columns, table
        assert counts[table] == one(conn, f'SELECT COUNT(*) FROM "{table}"'), table
    names = {r[0] for r in rows(conn, "SELECT name FROM sqlite_master WHERE type='index'")}
    for sql in INDEXES:
        assert re.search(r"EXISTS (\w+)", sql).group(1) in names
    assert one(conn, "PRAGMA journal_mode") == "wal"
    assert counts["users"] == USERS
    for table in expected:
        assert counts[table] > 0, table


def test_nothing_written_outside_db_and_media_root(demo):
    root, _, counts = demo
    assert sorted(p.name for p in root.iterdir()) in (["media", "platform.db"],
                                                     ["media", "platform.db", "platform.db-shm", "platform.db-wal"])
    assert [p.name for p in (root / "media").iterdir()] == [demo_media.DEMO_DIR]
    files = [p for p in (root / "media").rglob("*") if p.is_file()]
    assert counts["media_files"] == len(files)
    assert counts["media_bytes"] == sum(p.stat().st_size for p in files)


# ---------------------------------------------------------------- users

def test_users_look_like_people(demo):
    _, conn, _ = demo
    genders = dict(rows(conn, "SELECT gender, COUNT(*) FROM users GROUP BY gender"))
    assert set(genders) == {"woman", "man", "nonbinary"}
    assert genders["woman"] > 100 and genders["man"] > 100
    vis = dict(rows(conn, "SELECT visibility, COUNT(*) FROM users GROUP BY visibility"))
    assert set(vis) == {"public", "members", "hidden"} and vis["public"] > .7 * USERS
    assert 0 < one(conn, "SELECT COUNT(*) FROM users WHERE deleted_at IS NOT NULL") < .06 * USERS
    seeking = {s for (s,) in rows(conn, "SELECT DISTINCT seeking FROM users")}
    assert {"man", "woman"} <= seeking and any("," in s for s in seeking)
    for (s,) in rows(conn, "SELECT seeking FROM users"):
        assert set(s.split(",")) <= {"woman", "man", "nonbinary"}
    assert one(conn, "SELECT COUNT(DISTINCT username) FROM users") == USERS
    names = " ".join(r[0] for r in rows(conn, "SELECT display_name FROM users"))
    assert re.search(r"[^\x00-\x7f]", names)                  # Zoë, José, Müller, Søren...
    for birth, lo, hi, created, active, deleted in rows(
            conn, "SELECT birthdate, age_min, age_max, created_at, last_active_at, deleted_at FROM users"):
        assert 18 <= age_on(birth, NOW.date()) <= 75
        assert 18 <= lo < hi <= 99
        assert TS.match(created) and created <= NOW_TS
        assert created >= ts(NOW - timedelta(days=740))
        if active:
            assert created <= active <= NOW_TS
        if deleted:
            assert (active or created) <= deleted <= NOW_TS
    recent = one(conn, "SELECT COUNT(*) FROM users WHERE last_active_at >= ?", ts(NOW - timedelta(days=30)))
    stale = one(conn, "SELECT COUNT(*) FROM users WHERE last_active_at < ?", ts(NOW - timedelta(days=180)))
    assert recent > .35 * USERS and stale > 0


def test_places_are_real_cities(demo):
    _, conn, _ = demo
    countries = {c for (c,) in rows(conn, "SELECT DISTINCT country FROM users WHERE country IS NOT NULL")}
    assert len(countries) >= 4 and countries <= {"US", "GB", "DE", "FR", "ES", "SE"}
    london = rows(conn, "SELECT latitude, longitude FROM users WHERE city = 'London'")
    assert london and all(abs(lat - 51.51) < .3 and abs(lon + .13) < .4 for lat, lon in london)


def test_bios_mention_interests_and_sometimes_contacts(demo):
    _, conn, _ = demo
    bios = [b for (b,) in rows(conn, "SELECT bio FROM users")]
    interests = [n for (n,) in rows(conn, "SELECT name FROM interests")]
    assert sum(any(i in b for i in interests) for b in bios) > .5 * USERS
    assert any(EMAIL.search(b) for b in bios)
    assert any("+" in b and PHONE.search(b) for b in bios)
    assert "" in bios


def test_avatars_point_at_image_media(demo):
    _, conn, _ = demo
    avatars = rows(conn, "SELECT u.id, m.owner_id, m.kind FROM users u JOIN media m ON m.id = u.avatar_media_id")
    assert avatars and all(uid == owner and kind == "image" for uid, owner, kind in avatars)
    assert one(conn, "SELECT COUNT(*) FROM users WHERE avatar_media_id IS NOT NULL") == len(avatars)


# ---------------------------------------------------------------- quiz

def test_quiz_has_the_ipip_markers_and_matching_questions(demo):
    _, conn, _ = demo
    likert = rows(conn, "SELECT id, trait, reverse_keyed, area FROM quiz_questions WHERE kind = 'likert'")
    assert len(likert) == 50 and all(area is None for *_, area in likert)
    by_trait = {}
    for _, trait, rev, _ in likert:
        by_trait.setdefault(trait, []).append(rev)
    assert {t: len(v) for t, v in by_trait.items()} == dict.fromkeys(
        ["openness", "conscientiousness", "extraversion", "agreeableness", "neuroticism"], 10)
    assert sum(by_trait["neuroticism"]) == 2          # Emotional Stability keyed for neuroticism
    assert sum(by_trait["extraversion"]) == 5 and sum(by_trait["openness"]) == 3
    assert one(conn, "SELECT text FROM quiz_questions WHERE id = 1") == "Am the life of the party."
    match = rows(conn, "SELECT area, COUNT(*) FROM quiz_questions WHERE kind = 'match' GROUP BY area")
    assert dict(match) == dict.fromkeys(["communication", "future", "intimacy", "lifestyle", "values"], 8)
    for qid, kind, n, lo, hi in rows(conn, """
            SELECT q.id, q.kind, COUNT(*), MIN(o.position), MAX(o.position)
            FROM quiz_questions q JOIN quiz_options o ON o.question_id = q.id GROUP BY q.id"""):
        assert lo == 1 and hi == n
        assert n == 5 if kind == "likert" else 3 <= n <= 5
    assert rows(conn, "SELECT text FROM quiz_options WHERE question_id = 1 ORDER BY position") == [
        ("Very inaccurate",), ("Moderately inaccurate",), ("Neither accurate nor inaccurate",),
        ("Moderately accurate",), ("Very accurate",)]


def test_quiz_answers_are_consistent(demo):
    _, conn, _ = demo
    options = {}
    for oid, qid in rows(conn, "SELECT id, question_id FROM quiz_options"):
        options.setdefault(qid, set()).add(oid)
    kinds = dict(rows(conn, "SELECT id, kind FROM quiz_questions"))
    null_acc = everything = own_missing = 0
    importance = {}
    per_user_match = {}
    for uid, qid, oid, acc, imp, at in rows(conn, "SELECT * FROM quiz_answers"):
        assert oid in options[qid] and TS.match(at) and at <= NOW_TS
        if kinds[qid] == "likert":
            assert acc is None and imp is None
            continue
        per_user_match[uid] = per_user_match.get(uid, 0) + 1
        importance[imp] = importance.get(imp, 0) + 1
        if acc is None:
            null_acc += 1
            continue
        ids = json.loads(acc)
        assert set(ids) <= options[qid] and ids == sorted(ids)
        everything += set(ids) == options[qid]
        own_missing += bool(ids) and oid not in ids
    assert set(importance) == {0, 1, 2, 3, 4}
    assert importance[2] > importance[4] and importance[2] > importance[0]
    assert null_acc and everything and own_missing
    spread = sorted(per_user_match.values())
    assert spread[0] <= 10 and spread[-1] >= 35            # some answer a few, some nearly all
    partial = one(conn, """SELECT COUNT(*) FROM (SELECT user_id FROM quiz_answers WHERE question_id <= 50
                           GROUP BY user_id HAVING COUNT(*) < 25)""")
    assert partial > 0                                      # some traits end up NULL
    # answers follow the latent traits: extraversion items agree with each other
    e = rows(conn, """SELECT a.position, b.position FROM quiz_answers x
                      JOIN quiz_options a ON a.id = x.option_id
                      JOIN quiz_answers y ON y.user_id = x.user_id AND y.question_id = 11
                      JOIN quiz_options b ON b.id = y.option_id WHERE x.question_id = 1""")
    n = len(e)
    mx, my = sum(a for a, _ in e) / n, sum(b for _, b in e) / n
    cov = sum((a - mx) * (b - my) for a, b in e)
    var = (sum((a - mx) ** 2 for a, _ in e) * sum((b - my) ** 2 for _, b in e)) ** .5
    assert cov / var > .3


# ---------------------------------------------------------------- interests and graph

def test_interests_cluster_with_a_long_tail(demo):
    _, conn, _ = demo
    names = [n for (n,) in rows(conn, "SELECT name FROM interests")]
    assert 180 <= len(names) <= 230 and all(n == n.lower() for n in names)
    assert {"board games", "rock climbing", "hiking", "yoga", "meditation"} <= set(names)
    per_user = dict(rows(conn, "SELECT user_id, COUNT(*) FROM user_interests GROUP BY user_id"))
    assert max(per_user.values()) <= 15 and len(per_user) < USERS
    popular = rows(conn, "SELECT COUNT(*) c FROM user_interests GROUP BY interest_id ORDER BY c DESC")
    assert popular[0][0] > 5 * popular[len(popular) // 2][0]
    yoga_med = one(conn, """SELECT COUNT(*) FROM user_interests a JOIN user_interests b USING (user_id)
                            JOIN interests x ON x.id = a.interest_id JOIN interests y ON y.id = b.interest_id
                            WHERE x.name = 'yoga' AND y.name = 'meditation'""")
    yoga_f1 = one(conn, """SELECT COUNT(*) FROM user_interests a JOIN user_interests b USING (user_id)
                           JOIN interests x ON x.id = a.interest_id JOIN interests y ON y.id = b.interest_id
                           WHERE x.name = 'yoga' AND y.name = 'formula 1'""")
    assert yoga_med > yoga_f1


def test_follows_and_blocks(demo):
    _, conn, _ = demo
    indeg = [c for (c,) in rows(conn, "SELECT COUNT(*) c FROM follows GROUP BY followee_id ORDER BY c DESC")]
    assert indeg[0] > 4 * indeg[len(indeg) // 2]             # a few popular users
    assert one(conn, "SELECT COUNT(*) FROM follows WHERE follower_id = followee_id") == 0
    assert one(conn, """SELECT COUNT(*) FROM follows f JOIN users a ON a.id = f.follower_id
                        JOIN users b ON b.id = f.followee_id
                        WHERE f.created_at < a.created_at OR f.created_at < b.created_at
                           OR f.created_at > ?""", NOW_TS) == 0
    blocks = set(rows(conn, "SELECT blocker_id, blocked_id FROM blocks"))
    assert 0 < len(blocks) < .1 * USERS
    assert any((b, a) in blocks for a, b in blocks)            # both directions present
    assert any((b, a) not in blocks for a, b in blocks)


# ---------------------------------------------------------------- posts and engagement

def test_posts_with_hashtags_and_realistic_timing(demo):
    _, conn, _ = demo
    posts = rows(conn, "SELECT id, author_id, body, created_at, edited_at, deleted_at FROM posts")
    active = one(conn, "SELECT COUNT(*) FROM users WHERE last_active_at >= ?", ts(NOW - timedelta(days=42)))
    assert 1.5 * active < len(posts) < 6 * active
    oldest = ts(NOW - timedelta(days=43))
    assert all(oldest <= p[3] <= NOW_TS for p in posts)
    assert all(p[4] is None or p[3] < p[4] <= NOW_TS for p in posts)
    assert all(p[5] is None or p[3] <= p[5] <= NOW_TS for p in posts)
    assert 0 < sum(p[4] is not None for p in posts) < .2 * len(posts)
    assert 0 < sum(p[5] is not None for p in posts) < .08 * len(posts)
    bodies = " ".join(p[2] for p in posts)
    tags = set(re.findall(r"#\w+", bodies))
    lowered = {t.lower() for t in tags}
    multi_word = [n for (n,) in rows(conn, "SELECT name FROM interests") if " " in n]
    assert any("#" + n.replace(" ", "") in lowered for n in multi_word)   # '#boardgames'
    assert any(re.search(r"[^\x00-\x7f]", t) for t in tags)   # '#café' and friends
    last_week = sum(p[3] >= ts(NOW - timedelta(days=7)) for p in posts)
    first_week = sum(p[3] < ts(NOW - timedelta(days=35)) for p in posts)
    assert last_week > first_week                              # busier lately
    authors = [c for (c,) in rows(conn, "SELECT COUNT(*) c FROM posts GROUP BY author_id ORDER BY c DESC")]
    assert authors[0] >= 4 * authors[len(authors) // 2]


def test_engagement_follows_the_post_and_never_the_future(demo):
    _, conn, _ = demo
    for table, actor in (("post_likes", "user_id"), ("comments", "author_id"), ("shares", "user_id")):
        bad = one(conn, f"""SELECT COUNT(*) FROM {table} e JOIN posts p ON p.id = e.post_id
                            JOIN users u ON u.id = e.{actor}
                            WHERE e.created_at < p.created_at OR e.created_at > ?
                               OR e.created_at < u.created_at
                               OR (p.deleted_at IS NOT NULL AND e.created_at > p.deleted_at)""", NOW_TS)
        assert bad == 0, table
    deleted = one(conn, "SELECT AVG(deleted_at IS NOT NULL) FROM comments")
    assert 0 < deleted < .08
    likes = [c for (c,) in rows(conn, "SELECT COUNT(*) c FROM post_likes GROUP BY post_id ORDER BY c DESC")]
    assert likes[0] > 5 * likes[len(likes) // 2]               # a heavy tail of popular posts
    trending = one(conn, """SELECT COUNT(*) FROM posts p WHERE p.deleted_at IS NULL AND p.created_at >= ?
                            AND EXISTS (SELECT 1 FROM post_likes l WHERE l.post_id = p.id)
                            AND EXISTS (SELECT 1 FROM users u WHERE u.id = p.author_id
                                        AND u.deleted_at IS NULL AND u.visibility != 'hidden')""",
                   ts(NOW - timedelta(hours=72)))
    assert trending >= 5


def test_counter_caches_drift_a_little(demo):
    _, conn, _ = demo
    wrong_users = one(conn, """SELECT COUNT(*) FROM users u WHERE
        follower_count != (SELECT COUNT(*) FROM follows WHERE followee_id = u.id)
        OR following_count != (SELECT COUNT(*) FROM follows WHERE follower_id = u.id)
        OR post_count != (SELECT COUNT(*) FROM posts WHERE author_id = u.id AND deleted_at IS NULL)""")
    wrong_posts = one(conn, """SELECT COUNT(*) FROM posts p WHERE
        like_count != (SELECT COUNT(*) FROM post_likes WHERE post_id = p.id)
        OR comment_count != (SELECT COUNT(*) FROM comments WHERE post_id = p.id AND deleted_at IS NULL)
        OR share_count != (SELECT COUNT(*) FROM shares WHERE post_id = p.id)""")
    posts = one(conn, "SELECT COUNT(*) FROM posts")
    assert 0 < wrong_users < .1 * USERS
    assert 0 < wrong_posts < .1 * posts
    assert one(conn, "SELECT MIN(MIN(follower_count, following_count, post_count)) FROM users") >= 0


# ---------------------------------------------------------------- media

def media_rows(conn):
    return rows(conn, "SELECT id, owner_id, path, kind, mime, created_at, size_bytes, width, height, "
                      "duration_ms, metadata_at, metadata_error FROM media")


def readable(path: Path, kind: str) -> bool:
    if kind == "image":
        try:
            with Image.open(path) as im:
                im.load()
            return True
        except Exception:
            return False
    tracks = [t for t in MediaInfo.parse(path).tracks if t.track_type == kind.capitalize()]
    return bool(tracks) and (tracks[0].duration or 0) > 0


def test_media_files_are_real_and_varied(demo):
    root, conn, counts = demo
    media_root = root / "media"
    table = media_rows(conn)
    assert len(table) >= max(USERS // 20, 3 * 3)
    readable_kinds = set()
    for mid, owner, path, kind, mime, created, *meta in table:
        assert all(v is None for v in meta)                  # metadata left for the jobs
        assert path.startswith(f"{demo_media.DEMO_DIR}/{owner}/") and "\\" not in path
        assert kind in ("image", "video", "audio") and mime.split("/")[0] == kind
        file = media_root / path
        if file.exists():
            assert file.stat().st_mtime == epoch(created)
            if readable(file, kind):
                readable_kinds.add(kind)
    assert readable_kinds == {"image", "video", "audio"}
    per_kind = dict(rows(conn, "SELECT kind, COUNT(*) FROM media GROUP BY kind"))
    assert min(per_kind.values()) >= 3
    mimes = {m for (m,) in rows(conn, "SELECT DISTINCT mime FROM media")}
    assert {"image/jpeg", "image/png", "image/gif", "video/mp4", "audio/wav"} <= mimes


def test_special_images(demo):
    root, conn, _ = demo
    rotated = animated = 0
    for (path,) in rows(conn, "SELECT path FROM media WHERE mime IN ('image/jpeg', 'image/gif')"):
        file = root / "media" / path
        if not file.exists() or not readable(file, "image"):
            continue
        with Image.open(file) as im:
            if im.format == "JPEG" and im.getexif().get(0x0112) in (6, 8):
                rotated += 1
                assert ImageOps.exif_transpose(im).size == im.size[::-1]
            if im.format == "GIF" and getattr(im, "n_frames", 1) > 1:
                animated += 1
            assert max(im.size) <= 640
    assert rotated and animated


def test_broken_uploads_are_really_broken(demo):
    root, conn, _ = demo
    missing, empty, truncated, fake_video = [], [], [], []
    for mid, _, path, kind, mime, *_ in media_rows(conn):
        file = root / "media" / path
        if not file.exists():
            missing.append(mid)
        elif file.stat().st_size == 0:
            empty.append(mid)
        elif mime == "image/jpeg" and not readable(file, "image"):
            truncated.append(mid)
            with pytest.raises(OSError):
                with Image.open(file) as im:
                    im.load()
        elif mime == "video/mp4" and not readable(file, "video"):
            fake_video.append(mid)
            assert file.read_bytes().startswith(b"This is not a video")
            assert not any(t.track_type == "Video" for t in MediaInfo.parse(file).tracks)
    assert len(missing) == len(empty) == len(truncated) == len(fake_video) == 1
    # broken files stay attached to live posts, so metadata jobs meet them
    for mid in missing + empty + truncated + fake_video:
        assert one(conn, """SELECT COUNT(*) FROM post_media pm JOIN posts p ON p.id = pm.post_id
                            WHERE pm.media_id = ? AND p.deleted_at IS NULL""", mid) == 1


def test_orphans_and_stray_files(demo):
    root, conn, _ = demo
    attached = {m for (m,) in rows(conn, """
        SELECT pm.media_id FROM post_media pm JOIN posts p ON p.id = pm.post_id WHERE p.deleted_at IS NULL
        UNION SELECT avatar_media_id FROM users WHERE deleted_at IS NULL AND avatar_media_id IS NOT NULL""")}
    grace = ts(NOW - timedelta(hours=24))
    unattached = [(mid, created) for mid, _, _, _, _, created, *_ in media_rows(conn) if mid not in attached]
    assert any(created < grace for _, created in unattached)     # to be cleaned up
    assert any(created >= grace for _, created in unattached)    # still within the grace period
    known = {p for (p,) in rows(conn, "SELECT path FROM media")}
    files = [p for p in (root / "media").rglob("*") if p.is_file()]
    strays = [p for p in files if p.relative_to(root / "media").as_posix() not in known]
    old = [p for p in strays if p.stat().st_mtime < (NOW - timedelta(hours=48)).timestamp()]
    assert old and len(strays) >= 1
    assert all(p.stat().st_mtime <= NOW.timestamp() for p in files)


def test_post_media_positions(demo):
    _, conn, _ = demo
    for post, positions in rows(conn, "SELECT post_id, GROUP_CONCAT(position) FROM post_media GROUP BY post_id"):
        assert sorted(map(int, positions.split(","))) == list(range(1, len(positions.split(",")) + 1))
    assert one(conn, """SELECT COUNT(*) FROM post_media pm JOIN media m ON m.id = pm.media_id
                        JOIN posts p ON p.id = pm.post_id WHERE m.owner_id != p.author_id""") == 0


# ---------------------------------------------------------------- determinism and safety

def test_same_seed_same_platform_other_seed_other_platform(demo, tmp_path):
    root, _, _ = demo
    again = tmp_path / "again"
    again.mkdir()
    build_demo(again / "platform.db", again / "media", USERS, seed=7, now=NOW)
    assert dump(again / "platform.db") == dump(root / "platform.db")
    assert media_fingerprint(again / "media") == media_fingerprint(root / "media")
    other = tmp_path / "other"
    other.mkdir()
    build_demo(other / "platform.db", other / "media", USERS, seed=8, now=NOW)
    assert dump(other / "platform.db") != dump(root / "platform.db")
    assert media_fingerprint(other / "media") != media_fingerprint(root / "media")


def test_refuses_existing_platform_unless_forced(tmp_path):
    db, media = tmp_path / "platform.db", tmp_path / "media"
    build_demo(db, media, 20, seed=1, now=NOW)
    before = dump(db)
    with pytest.raises(DatabaseError, match="--force"):
        build_demo(db, media, 20, seed=2, now=NOW)
    assert dump(db) == before
    with pytest.raises(UsageError, match="--force"):             # demo media left from a lost database
        build_demo(tmp_path / "fresh.db", media, 20, seed=2, now=NOW)
    assert not (tmp_path / "fresh.db").exists()
    counts = build_demo(db, media, 25, seed=2, now=NOW, force=True)
    assert counts["users"] == 25 and dump(db) != before
    files = set(media_fingerprint(media))
    paths = {p for (p,) in sqlite3.connect(db).execute("SELECT path FROM media")}
    assert len(files - paths) == 2                               # this build's strays; old files gone
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_refuses_files_that_are_not_sqlite(tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("my precious notes\n")
    for force in (False, True):
        with pytest.raises(DatabaseError, match="not an SQLite database"):
            build_demo(notes, tmp_path / "media", 5, now=NOW, force=force)
    assert notes.read_text() == "my precious notes\n"
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE things (x)").connection.commit()
    with pytest.raises(DatabaseError, match="--force"):
        build_demo(other, tmp_path / "media", 5, now=NOW)
    with pytest.raises(UsageError):
        build_demo(tmp_path / "p.db", tmp_path / "media", 0, now=NOW)
    with pytest.raises(DatabaseError):
        build_demo(tmp_path / "missing-dir" / "p.db", tmp_path / "media", 5, now=NOW)


def test_failed_build_leaves_the_old_database(tmp_path, monkeypatch):
    db, media = tmp_path / "platform.db", tmp_path / "media"
    build_demo(db, media, 10, seed=1, now=NOW)
    before = dump(db)

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("jobctl.demo.build.write_media", boom)
    with pytest.raises(RuntimeError):
        build_demo(db, media, 10, seed=3, now=NOW, force=True)
    assert dump(db) == before
    assert sorted(p.name for p in tmp_path.iterdir()) in (["media", "platform.db"],
                                                         ["media", "platform.db", "platform.db-shm",
                                                          "platform.db-wal"])


def test_tiny_demo_still_has_every_kind_of_thing(tmp_path):
    counts = build_demo(tmp_path / "p.db", tmp_path / "media", 1, seed=5, now=NOW)
    assert counts["users"] == 1 and counts["media"] >= 13 and counts["posts"] >= 1
    conn = sqlite3.connect(tmp_path / "p.db")
    assert dict(conn.execute("SELECT kind, COUNT(*) FROM media GROUP BY kind")).keys() == {"image", "video", "audio"}
    assert min(dict(conn.execute("SELECT kind, COUNT(*) FROM media GROUP BY kind")).values()) >= 3


def test_default_now_is_the_current_second(tmp_path):
    before = datetime.now(timezone.utc).replace(microsecond=0)
    build_demo(tmp_path / "p.db", tmp_path / "media", 3, seed=5)
    latest = sqlite3.connect(tmp_path / "p.db").execute("SELECT MAX(last_active_at) FROM users").fetchone()[0]
    assert ts(before - timedelta(hours=2)) <= latest <= ts(datetime.now(timezone.utc) + timedelta(seconds=1))


def test_vectorised_timestamps_match_fmt_ts():
    import numpy as np

    secs = np.array([0, 951782399, 951868800, 1795921200, 4102444799, NO_TS], dtype=np.int64)
    expected = [fmt_ts(datetime.fromtimestamp(int(s), timezone.utc)) for s in secs[:-1]] + [None]
    assert ts_strings(secs) == expected
