"""Pages rendered from the package's Jinja2 templates, with the headers every page carries.

Autoescaping is on for every template, so anything from a procedure, a case or a
payload is shown as text. Every HTML response carries a strict Content-Security-
Policy — scripts and styles only from our own ``/ui/static/`` files, nothing
inline, no framing, forms posting only to us — plus ``nosniff`` and no referrer,
so even a label that slipped past escaping could not run.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse, Response

from engine.web.views import shown

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def package_dir(name: str) -> str:
    """A directory shipped inside ``engine.web`` (``templates`` or ``static``)."""
    return str(files("engine.web").joinpath(name))


@cache
def environment() -> Environment:
    """The template environment (built once per process)."""
    env = Environment(
        loader=FileSystemLoader(package_dir("templates")),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["shown"] = shown
    return env


def secure(response: Response) -> Response:
    """Add the security headers to a response."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def page(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render a template as an HTML response with the security headers.

    Args:
        template: the template's file name.
        status: the HTTP status.
        **context: the template's variables.
    """
    html = environment().get_template(template).render(**context)
    response = HTMLResponse(html, status_code=status)
    secure(response)
    return response
