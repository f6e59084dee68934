"""Signing in on the pages: a key given once in a form becomes a session cookie (HttpOnly,
SameSite=Strict, Secure on loopback), which the pages and the API take like the key; the
session ends at sign-out, on expiry and when its key is revoked; a write carried by the cookie
must come from this server's own pages. Through a real server on loopback."""
import hashlib
import re
import secrets

import httpx
import pytest
from sqlalchemy import text

from gis import users


def sign_in(api_url, key, next_="/map"):
    """A client holding the session cookie the sign-in sets. (Python's cookie jar keeps a Secure
    cookie for https only; a browser sends it to loopback too, so it is set by hand here.)"""
    c = httpx.Client(base_url=api_url, timeout=60)
    r = c.post("/signin", data={"key": key, "next": next_})
    found = re.match(r"pianqu_session=([^;]+)", r.headers.get("set-cookie", ""))
    if found:
        c.cookies.clear()
        c.cookies.set("pianqu_session", found.group(1))
    return c, r


def test_the_map_sends_a_stranger_to_the_sign_in_page_and_back(api_url, api_keys):
    c = httpx.Client(base_url=api_url, timeout=60)
    r = c.get("/map?city=demo-small")
    assert r.status_code == 303 and r.headers["location"] == "/signin?next=%2Fmap%3Fcity%3Ddemo-small"
    page = c.get(r.headers["location"])
    assert page.status_code == 200 and 'name="next" value="/map?city=demo-small"' in page.text
    assert 'type="password"' in page.text
    _, r = sign_in(api_url, api_keys["analyst"], "/map?city=demo-small")
    assert r.status_code == 303 and r.headers["location"] == "/map?city=demo-small"
    assert api_keys["analyst"] not in r.headers["location"] and api_keys["analyst"] not in r.headers["set-cookie"]


def test_the_cookie_is_httponly_strict_secure_and_only_its_hash_is_stored(api_url, api_keys, engine):
    c, r = sign_in(api_url, api_keys["planner"])
    cookie = r.headers["set-cookie"]
    token = re.match(r"pianqu_session=([^;]+)", cookie).group(1)
    attrs = {a.strip().split("=")[0].lower() for a in cookie.split(";")[1:]}
    assert {"httponly", "secure", "path", "max-age"} <= attrs and "samesite=strict" in cookie.lower()
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT token_hash FROM api_sessions")).scalars().all()
    assert hashlib.sha256(token.encode()).hexdigest() in rows and token not in rows


def test_a_wrong_key_is_refused_on_the_page_without_a_cookie(api_url):
    _, r = sign_in(api_url, "pq_deadbeef_" + secrets.token_urlsafe(32))
    assert r.status_code == 401 and "unknown or revoked" in r.text and "set-cookie" not in r.headers
    _, r = sign_in(api_url, "")
    assert r.status_code == 401 and "Give your API key" in r.text


def test_the_session_opens_the_map_the_api_and_the_tiles(api_url, api_keys):
    c, _ = sign_in(api_url, api_keys["analyst"])
    page = c.get("/map")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "connect-src 'self'" in csp
    # every script and style sheet of the page is this server's own
    assert not re.findall(r'(?:src|href)="(?:https?:)?//', page.text)
    config = re.search(r'<script type="application/json" id="pianqu-config">(.*?)</script>', page.text, re.S)
    assert config and '"can_edit": false' in config.group(1) and '"role": "analyst"' in config.group(1)
    assert c.get("/districts").status_code in (200, 404)      # 404 only when no plan is active yet
    assert c.get("/collections/boxes/items?limit=1").status_code == 200
    assert c.get("/tiles/boxes/12/3333/1713.pbf").status_code in (200, 204)


def test_a_write_by_cookie_must_come_from_this_servers_pages(api_url, api_keys):
    c, _ = sign_in(api_url, api_keys["planner"])
    url = "/collections/boxes/items/NO-SUCH-BOX"
    r = c.delete(url, headers={"If-Match": "*"})
    assert r.status_code == 403 and "Origin" in r.json()["detail"]
    r = c.delete(url, headers={"If-Match": "*", "Origin": "http://evil.example"})
    assert r.status_code == 403
    r = c.delete(url, headers={"If-Match": "*", "Origin": api_url})
    assert r.status_code == 404                     # past the check: the box does not exist
    # a bearer key needs no Origin (tools, not browsers)
    r = httpx.delete(api_url + url, headers={"If-Match": "*", "Authorization": f"Bearer {api_keys['planner']}"})
    assert r.status_code == 404


def test_a_role_keeps_its_limits_through_the_cookie(api_url, api_keys):
    c, _ = sign_in(api_url, api_keys["analyst"])
    r = c.delete("/collections/boxes/items/NO-SUCH-BOX", headers={"If-Match": "*", "Origin": api_url})
    assert r.status_code == 403 and "analyst" in r.json()["detail"]


def test_sign_out_ends_the_session(api_url, api_keys):
    c, _ = sign_in(api_url, api_keys["analyst"])
    assert c.get("/map").status_code == 200
    token = c.cookies["pianqu_session"]
    r = c.post("/signout", headers={"Origin": api_url})
    assert r.status_code == 303 and r.headers["location"] == "/signin"
    again = httpx.Client(base_url=api_url, cookies={"pianqu_session": token}, timeout=60)
    assert again.get("/map").status_code == 303
    r = again.get("/districts")
    assert r.status_code == 401 and "session has ended" in r.json()["detail"]


@pytest.mark.parametrize("how", ["revoked", "rotated", "expired"])
def test_a_session_dies_with_its_key_and_at_its_end(api_url, engine, loaded_demo, how):
    name = f"sess-{how}-{secrets.token_hex(3)}"
    with engine.begin() as conn:
        _, key = users.add(conn, name, "analyst")
    c, _ = sign_in(api_url, key)
    assert c.get("/collections").status_code == 200
    with engine.begin() as conn:
        if how == "revoked":
            users.revoke(conn, name)
        elif how == "rotated":
            users.rotate(conn, name, "analyst")
        else:
            conn.execute(text("UPDATE api_sessions SET expires_at = now() - interval '1 second' WHERE user_id = :u"),
                         {"u": name})
    assert c.get("/collections").status_code == 401
    assert c.get("/map").status_code == 303


def test_sign_in_only_sends_back_to_this_servers_own_pages(api_url, api_keys):
    for target in ("https://evil.example/x", "//evil.example/x", "/\\evil.example"):
        _, r = sign_in(api_url, api_keys["analyst"], target)
        assert r.status_code == 303 and r.headers["location"] == "/map", target
    c = httpx.Client(base_url=api_url, timeout=60)
    r = c.post("/signin", data={"key": api_keys["analyst"]}, headers={"Origin": "http://evil.example"})
    assert r.status_code == 403


def test_static_files_are_served_without_a_key_and_nothing_else_is(api_url):
    r = httpx.get(api_url + "/static/vendor/leaflet/leaflet.js")
    assert r.status_code == 200 and "Leaflet" in r.text[:400]
    assert httpx.get(api_url + "/static/vendor/leaflet/LICENSE").status_code == 200
    assert httpx.get(api_url + "/static/../gis/db.py").status_code == 404
    assert httpx.get(api_url + "/districts").status_code == 401
