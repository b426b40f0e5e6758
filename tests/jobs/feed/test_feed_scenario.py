"""The user guide's troubleshooting case "Feed not updating", as function calls.

After new posts and likes, running the feed jobs in the group's order (content-features, trending,
affinity, feed-presort) refreshes trending and the presorted feeds.
"""

from jobctl.context import make_context
from jobctl.jobs import feed

T1 = "2026-11-28T12:00:00Z"
T2 = "2026-11-29T03:00:00Z"
FEED_JOBS = (feed.content_features, feed.trending, feed.affinity, feed.feed_presort)


def run_feed_group(platform, now):
    return {fn.spec.name: fn(make_context(platform.conn, fn.spec, {"now": now})) for fn in FEED_JOBS}


def test_new_popular_post_enters_trending_and_the_followers_feed(platform):
    p = platform
    author, follower, other = p.user(), p.user(), p.user()
    fans = [p.user() for _ in range(4)]
    p.interest("hiking")
    p.follow(follower, author, "2026-11-20T00:00:00Z")
    old = p.post(author, "Morning coffee", created_at="2026-11-27T08:00:00Z")
    rival = p.post(other, "Rival post about #hiking", created_at="2026-11-27T09:00:00Z")
    p.like(fans[0], old, "2026-11-27T10:00:00Z")
    for fan in fans[:2]:
        p.like(fan, rival, "2026-11-27T10:00:00Z")
    p.like(follower, rival, "2026-11-27T10:00:00Z")

    first = run_feed_group(p, T1)
    assert first["content-features"]["posts_analysed"] == 2
    rows = "SELECT post_id FROM trending_posts ORDER BY rank"
    assert p.rows(rows) == [(rival,), (old,)]
    following = ("SELECT item_id FROM feed_presort WHERE user_id = ? AND section = 'following' "
                 "ORDER BY position")
    assert p.rows(following, follower) == [(old,)]

    # new content and engagement arrive: the feed is stale until the group runs again
    new = p.post(author, "Sunset from the summit #hiking", created_at="2026-11-29T01:00:00Z")
    for fan in fans:
        p.like(fan, new, "2026-11-29T02:00:00Z")
    p.comment(fans[0], new, created_at="2026-11-29T02:30:00Z")
    assert p.rows(following, follower) == [(old,)]

    second = run_feed_group(p, T2)
    assert second["content-features"]["posts_analysed"] == 1          # only the new post
    assert p.rows(rows)[0] == (new,)
    assert p.rows(following, follower) == [(new,), (old,)]
    trending_section = ("SELECT item_id FROM feed_presort WHERE user_id = ? AND section = 'trending' "
                        "ORDER BY position")
    assert p.rows(trending_section, follower)[0] == (new,)
    # the follower follows the author: the new post also scores in 'for_you'; the liked rival does not
    for_you = {r[0] for r in p.rows("SELECT item_id FROM feed_presort WHERE user_id = ? AND section = 'for_you'",
                                    follower)}
    assert new in for_you and rival not in for_you
    # the author's own feed never shows their own posts in 'trending'
    assert (new,) not in p.rows(trending_section, author)
