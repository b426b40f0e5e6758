"""The admin panel and its JSON API (`jobctl serve`): Starlette, Jinja2 templates, uvicorn.

Nothing here is imported by ``jobctl --help``; the CLI imports :mod:`jobctl.web.server` lazily.
"""
