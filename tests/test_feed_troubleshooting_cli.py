"""The guide's "Feed not updating" troubleshooting, as an operator does it: after new posts and likes,
`jobctl enqueue --group feed --wait` refreshes trending and the presorted feeds."""

import json

from typer.testing import CliRunner

from jobctl.cli import app

runner = CliRunner()


def test_enqueue_feed_group_refreshes_trending_and_following(env):
    p = env.platform
    author, follower, other = p.user(), p.user(), p.user()
    fans = [p.user() for _ in range(4)]
    p.interest("hiking")
    p.follow(follower, author, "2026-11-20T00:00:00Z")
    old = p.post(author, "Morning coffee", created_at="2026-11-27T08:00:00Z")
    rival = p.post(other, "Rival post about #hiking", created_at="2026-11-27T09:00:00Z")
    for fan in fans[:2]:
        p.like(fan, rival, "2026-11-27T10:00:00Z")
    p.like(fans[3], old, "2026-11-27T10:00:00Z")

    def enqueue_feed(now):
        res = runner.invoke(app, [*env.args, "enqueue", "--group", "feed", "-p", f"now={now}", "--wait", "--json"])
        assert res.exit_code == 0, res.output
        return json.loads(res.stdout)["jobs"]

    jobs = enqueue_feed("2026-11-28T12:00:00Z")
    assert [j["name"] for j in jobs] == ["build-user-traits", "match-scores", "content-features", "trending",
                                         "affinity", "feed-presort"]
    trending = "SELECT post_id FROM trending_posts ORDER BY rank"
    following = "SELECT item_id FROM feed_presort WHERE user_id=? AND section='following' ORDER BY position"
    assert p.rows(trending)[0] == (rival,)
    assert p.rows(following, follower) == [(old,)]

    # users report stale content: a new post by the followed author becomes popular
    new = p.post(author, "Sunset from the summit #hiking", created_at="2026-11-29T01:00:00Z")
    for fan in fans:
        p.like(fan, new, "2026-11-29T02:00:00Z")
    p.share(fans[1], new, "2026-11-29T02:10:00Z")
    assert (new,) not in p.rows(trending)

    jobs = enqueue_feed("2026-11-29T03:00:00Z")
    assert all(j["status"] == "success" for j in jobs)
    assert p.rows(trending)[0] == (new,)
    assert p.rows(following, follower) == [(new,), (old,)]
    hist = json.loads(runner.invoke(app, [*env.args, "history", "--job", "trending", "--json"]).stdout)
    assert [j["status"] for j in hist] == ["success", "success"]
