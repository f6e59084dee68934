"""What the HTML pages share: the templates, the signed-in viewer (or a redirect to the sign-in
page), and the headers every page carries (a Content-Security-Policy that lets a page load and
fetch only from this server, so an intranet page can never reach for a CDN)."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, urlsplit

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import RedirectResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import Connection

from gis.config import basemap_url
from gis.users import User

from .deps import known_user, credential, who

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
STATIC = Path(__file__).resolve().parents[1] / "static"


def security_headers() -> dict[str, str]:
    img = "'self' data: blob:"
    base = basemap_url()
    if base:            # the one other host a page may load from, when an operator sets it
        u = urlsplit(base.replace("{s}", "a"))
        img += f" {u.scheme}://{u.netloc}"
    return {"Content-Security-Policy": f"default-src 'self'; img-src {img}; style-src 'self' 'unsafe-inline'; "
                                       "worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; "
                                       "form-action 'self'; base-uri 'none'",
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin", "Cache-Control": "no-store"}


def viewer(request: Request, conn: Connection) -> User | None:
    """The signed-in person (session cookie or bearer key), or None (then the page redirects)."""
    found = credential(request)
    if found is None:
        return None
    user = who(conn, *found)
    return None if user is None else known_user(request, user, found[0])


def to_signin(request: Request) -> RedirectResponse:
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/signin?next={quote(here, safe='')}", status_code=303)


def render(request: Request, name: str, context: dict, status: int = 200):
    if "config" in context:     # the page's JSON: dates and times as the API writes them
        context = {**context, "config": jsonable_encoder(context["config"])}
    return TEMPLATES.TemplateResponse(request, name, context, status_code=status, headers=security_headers())


def local_path(target: str | None) -> str:
    """A redirect target from a form: a path of this server only (never `//host` or a URL)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/map"
    return target


def standalone_html(config: dict, written: str) -> str:
    """A planner map in one HTML file (`pianqu map --out`): Leaflet, the styles and the data
    inline, Leaflet's images as data: URIs, so the file opens with no server and no internet."""
    import base64
    vendor = STATIC / "vendor" / "leaflet"
    css = (vendor / "leaflet.css").read_text()
    for img in (vendor / "images").glob("*.png"):
        uri = "data:image/png;base64," + base64.b64encode(img.read_bytes()).decode()
        css = css.replace(f"images/{img.name}", uri)
    # a script's text must not close its own tag
    def script(path): return (STATIC / path).read_text().replace("</script", "<\\/script")
    return TEMPLATES.get_template("standalone.html").render(
        config=jsonable_encoder(config), written=written, leaflet_css=css, pianqu_css=(STATIC / "map" / "pianqu.css").read_text(),
        leaflet_js=script("vendor/leaflet/leaflet.js"), layers_js=script("map/layers.js"),
        standalone_js=script("map/standalone.js"))
