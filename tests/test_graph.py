import pytest

from jobctl import graph
from jobctl.errors import CatalogueError, UnknownJob, UsageError
from jobctl.registry import Registry, job, load_catalogue


def contract_registry() -> Registry:
    """The real catalogue (its 17 built-in jobs and their declared dependencies)."""
    return load_catalogue()


def names(specs):
    return [s.name for s in specs]


def test_feed_group_resolves_exactly_as_the_contract_says():
    reg = contract_registry()
    assert names(graph.resolve(reg, groups=["feed"])) == [
        "build-user-traits", "match-scores", "content-features", "trending", "affinity", "feed-presort"]


def test_search_group_pulls_in_build_user_traits_in_lexicographic_topological_order():
    reg = contract_registry()
    order = names(graph.resolve(reg, groups=["search"]))
    # profile-search-index comes first in the catalogue but must wait for searchable-user
    assert order.index("searchable-user") < order.index("profile-search-index")
    assert order == ["build-user-traits", "user-interest-sets", "searchable-user", "profile-search-index",
                     "interest-relationships"]


def test_all_excludes_media_metadata_and_is_a_valid_order():
    reg = contract_registry()
    order = names(graph.resolve(reg, all_jobs=True))
    assert "media-metadata" not in order and len(order) == 16
    pos = {n: i for i, n in enumerate(order)}
    for spec in reg.all():
        for dep in spec.depends_on:
            if spec.name in pos:
                assert pos[dep] < pos[spec.name]


def test_named_job_brings_its_closure_across_groups():
    reg = contract_registry()
    assert names(graph.resolve(reg, jobs=["feed-presort"])) == [
        "build-user-traits", "match-scores", "content-features", "trending", "affinity", "feed-presort"]
    assert names(graph.resolve(reg, jobs=["media-metadata"])) == ["media-metadata"]


def test_cycle_is_refused_with_its_path():
    reg = Registry()
    for name, dep in (("a", "c"), ("b", "a"), ("c", "b")):
        job(name, group="g", summary="s", description="d", when="w", impact="i", depends_on=[dep],
            registry=reg)(lambda ctx: {})
    with pytest.raises(CatalogueError, match="cycle: .*a.*→.*"):
        graph.build(reg)


def test_unknown_names_are_refused_with_a_suggestion():
    reg = contract_registry()
    with pytest.raises(UnknownJob, match="did you mean 'trending'"):
        graph.resolve(reg, jobs=["trendin"])
    with pytest.raises(UnknownJob, match="unknown group 'fed'"):
        graph.resolve(reg, groups=["fed"])
    with pytest.raises(UsageError):
        graph.resolve(reg)


def test_duplicate_and_unknown_dependency_refused():
    reg = Registry()
    job("a", group="g", summary="s", description="d", when="w", impact="i", registry=reg)(lambda ctx: {})
    with pytest.raises(CatalogueError, match="declared twice"):
        job("a", group="g", summary="s", description="d", when="w", impact="i", registry=reg)(lambda ctx: {})
    job("b", group="g", summary="s", description="d", when="w", impact="i", depends_on=["zz"],
        registry=reg)(lambda ctx: {})
    with pytest.raises(CatalogueError, match="'b' depends on 'zz'"):
        reg.check()


def test_renderers():
    reg = contract_registry()
    specs = graph.resolve(reg, groups=["feed"])
    text = graph.render_text(reg, specs)
    assert "feed-presort (feed) ← match-scores, trending, affinity" in text
    dot = graph.render_dot(reg, specs)
    assert dot.startswith("digraph") and '"match-scores" -> "feed-presort";' in dot
    mer = graph.render_mermaid(reg, specs)
    assert mer.startswith("flowchart LR") and "match_scores --> feed_presort" in mer
