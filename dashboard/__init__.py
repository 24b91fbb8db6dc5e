"""The web application for ARS/CPAM binômes, legal and national staff (an entrypoint, like the CLI).

`create_app` builds the ASGI application on a unit of work; `cpts web` serves it with uvicorn. Pages are
server-rendered Jinja2 templates (`templates/web/`) that work without JavaScript; htmx (vendored under
`dashboard/static/vendor/`) only refreshes fragments in place. Every write goes through the same use cases as
the CLI (`workflows.services`), with the signed-in user as the actor; every read goes through the read models.
"""
