"""The built-in jobs, one package per group (``jobctl.jobs.<group>``), each declaring its jobs
with :func:`jobctl.registry.job` when imported. Importing this package imports none of them:
:func:`jobctl.registry.load_catalogue` does, in this order, which is the catalogue's group order
(a group's jobs are in the order its package declares them).
"""

GROUPS = ("matching", "feed", "search", "maintenance", "media", "quiz")
