"""stats-reconcile: counters set to the truth, only drifted rows written, safe to kill."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from builders import Platform, run_job
from jobctl.backend import is_postgres
from jobctl.context import Reporter
from jobctl.jobs import maintenance

USER_COLS = "id, follower_count, following_count, post_count"
POST_COLS = "id, like_count, comment_count, share_count"


def log_updates(p):
    """Record every UPDATE of a users or posts row, to prove untouched rows are not rewritten."""
    if is_postgres(p.conn):
        p.conn.raw.execute("""
        CREATE TABLE upd_log (tbl text, id bigint);
        CREATE FUNCTION log_upd() RETURNS trigger LANGUAGE plpgsql AS
            $$ BEGIN INSERT INTO upd_log VALUES (TG_TABLE_NAME, NEW.id); RETURN NEW; END $$;
        CREATE TRIGGER users_upd AFTER UPDATE ON users FOR EACH ROW EXECUTE FUNCTION log_upd();
        CREATE TRIGGER posts_upd AFTER UPDATE ON posts FOR EACH ROW EXECUTE FUNCTION log_upd();
        """)
        return
    p.conn.executescript("""
        CREATE TABLE upd_log (tbl TEXT, id INTEGER);
        CREATE TRIGGER users_upd AFTER UPDATE ON users BEGIN INSERT INTO upd_log VALUES ('users', NEW.id); END;
        CREATE TRIGGER posts_upd AFTER UPDATE ON posts BEGIN INSERT INTO upd_log VALUES ('posts', NEW.id); END;
    """)


def build(p):
    """Five users, four posts; some counters right, some drifted (in both directions)."""
    a = p.user(follower_count=2, following_count=1, post_count=2)     # right
    b = p.user(follower_count=0, following_count=1, post_count=0)     # follower_count drifted (truth 1)
    c = p.user(follower_count=0, following_count=9, post_count=1)     # following 9 (truth 2), posts 1 (truth 0)
    d = p.user(follower_count=1, following_count=0, post_count=0, deleted_at="2026-10-01T00:00:00Z")  # right
    e = p.user(follower_count=0, following_count=0, post_count=0)     # right, no activity
    p.follow(b, a)
    p.follow(c, a)
    p.follow(c, d)
    p.follow(a, b)
    # a: followers b, c = 2; following b = 1. b: followers a = 1. c: following a, d = 2. d: followers c = 1.
    p1 = p.post(a, "one", like_count=2, comment_count=1, share_count=0)   # right
    p2 = p.post(a, "two", like_count=0, comment_count=3, share_count=1)   # likes 0 (truth 1), comments 3 (truth 1)
    p.post(a, "gone", deleted_at="2026-11-01T00:00:00Z")                  # not counted in a's post_count
    p.post(c, "deleted", deleted_at="2026-11-02T00:00:00Z", share_count=5)  # shares 5 (truth 0); c has 0 posts
    p.like(b, p1)
    p.like(c, p1)
    p.like(b, p2)
    p.comment(b, p1)
    p.comment(b, p2)
    p.comment(c, p2, deleted_at="2026-11-28T13:00:00Z")                  # deleted: not counted
    p.share(c, p2)
    return dict(a=a, b=b, c=c, d=d, e=e)


def test_drifted_counters_fixed_and_untouched_rows_not_rewritten(platform):
    ids = build(platform)
    log_updates(platform)
    result = run_job(platform, maintenance.stats_reconcile)
    assert result["users_fixed"] == 2 and result["posts_fixed"] == 2
    assert platform.rows(f"SELECT {USER_COLS} FROM users ORDER BY id") == [
        (ids["a"], 2, 1, 2), (ids["b"], 1, 1, 0), (ids["c"], 0, 2, 0), (ids["d"], 1, 0, 0), (ids["e"], 0, 0, 0)]
    assert platform.rows(f"SELECT {POST_COLS} FROM posts ORDER BY id") == [
        (1, 2, 1, 0), (2, 1, 1, 1), (3, 0, 0, 0), (4, 0, 0, 0)]
    assert sorted(platform.rows("SELECT tbl, id FROM upd_log")) == [
        ("posts", 2), ("posts", 4), ("users", ids["b"]), ("users", ids["c"])]
    assert result["examples"] == [
        {"table": "users", "id": ids["b"], "column": "follower_count", "was": 0, "now": 1},
        {"table": "users", "id": ids["c"], "column": "following_count", "was": 9, "now": 2},
        {"table": "users", "id": ids["c"], "column": "post_count", "was": 1, "now": 0},
        {"table": "posts", "id": 2, "column": "like_count", "was": 0, "now": 1},
        {"table": "posts", "id": 2, "column": "comment_count", "was": 3, "now": 1},
        {"table": "posts", "id": 4, "column": "share_count", "was": 5, "now": 0},
    ]


def test_second_run_fixes_nothing_and_writes_nothing(platform):
    build(platform)
    run_job(platform, maintenance.stats_reconcile)
    log_updates(platform)
    assert run_job(platform, maintenance.stats_reconcile) == {"users_fixed": 0, "posts_fixed": 0, "examples": []}
    assert platform.rows("SELECT COUNT(*) FROM upd_log") == [(0,)]


def test_batches_of_one_give_the_same_answer_and_examples_are_capped(platform):
    build(platform)
    result = run_job(platform, maintenance.stats_reconcile, batch_size=1, max_examples=2)
    assert (result["users_fixed"], result["posts_fixed"]) == (2, 2)
    assert [(e["table"], e["column"]) for e in result["examples"]] == [
        ("users", "follower_count"), ("users", "following_count")]


def test_progress_counts_every_row(platform):
    build(platform)
    reporter = Reporter()
    run_job(platform, maintenance.stats_reconcile, reporter=reporter, batch_size=2)
    assert (reporter.done, reporter.total) == (9, 9)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_counters_always_end_equal_to_the_truth(tmp_path_factory, data):
    p = Platform(tmp_path_factory.mktemp("prop"))
    n = data.draw(st.integers(1, 6))
    counter = st.integers(0, 4)
    users = [p.user(follower_count=data.draw(counter), following_count=data.draw(counter),
                    post_count=data.draw(counter)) for _ in range(n)]
    pairs = data.draw(st.sets(st.tuples(st.sampled_from(users), st.sampled_from(users)), max_size=12))
    for a, b in pairs:
        p.follow(a, b)
    posts = [p.post(data.draw(st.sampled_from(users)), "x", like_count=data.draw(counter),
                    comment_count=data.draw(counter), share_count=data.draw(counter),
                    deleted_at=data.draw(st.sampled_from([None, "2026-11-01T00:00:00Z"])))
             for _ in range(data.draw(st.integers(0, 5)))]
    for _ in range(data.draw(st.integers(0, 10)) if posts else 0):
        post, user = data.draw(st.sampled_from(posts)), data.draw(st.sampled_from(users))
        kind = data.draw(st.sampled_from(["like", "comment", "deleted comment", "share"]))
        if kind == "like":
            p.conn.execute("INSERT OR IGNORE INTO post_likes VALUES (?, ?, '2026-11-28T00:00:00Z')", (user, post))
        elif kind == "share":
            p.share(user, post)
        else:
            p.comment(user, post, deleted_at="2026-11-28T00:00:00Z" if kind == "deleted comment" else None)
    run_job(p, maintenance.stats_reconcile, batch_size=data.draw(st.integers(1, 4)))
    truth_users = p.rows(
        "SELECT id, (SELECT COUNT(*) FROM follows WHERE followee_id = u.id),"
        " (SELECT COUNT(*) FROM follows WHERE follower_id = u.id),"
        " (SELECT COUNT(*) FROM posts WHERE author_id = u.id AND deleted_at IS NULL) FROM users u ORDER BY id")
    truth_posts = p.rows(
        "SELECT id, (SELECT COUNT(*) FROM post_likes WHERE post_id = t.id),"
        " (SELECT COUNT(*) FROM comments WHERE post_id = t.id AND deleted_at IS NULL),"
        " (SELECT COUNT(*) FROM shares WHERE post_id = t.id) FROM posts t ORDER BY id")
    assert p.rows(f"SELECT {USER_COLS} FROM users ORDER BY id") == truth_users
    assert p.rows(f"SELECT {POST_COLS} FROM posts ORDER BY id") == truth_posts
    assert run_job(p, maintenance.stats_reconcile)["users_fixed"] == 0
    p.conn.close()


@pytest.fixture
def platform(any_platform):
    """Every known-answer test of this module runs on SQLite and on PostgreSQL."""
    return any_platform
