"""What every HTTP error test checks (the status, problem+json, the words of the detail), and
the items of a query page by page."""
from __future__ import annotations

import httpx

PROBLEM = "application/problem+json"


def problem(r: httpx.Response, status: int, *says: str) -> dict:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith(PROBLEM)
    body = r.json()
    assert body["status"] == status and body["title"] and all(s in body["detail"] for s in says), body
    return body


def every_feature(client: httpx.Client, url: str, **params) -> tuple[list[dict], dict]:
    """Every feature of an items query, following the next links; and the last page."""
    feats, r = [], client.get(url, params=params)
    while True:
        assert r.status_code == 200, r.text
        page = r.json()
        feats += page["features"]
        nxt = [link["href"] for link in page["links"] if link["rel"] == "next"]
        if not nxt:
            return feats, page
        r = client.get(nxt[0])
