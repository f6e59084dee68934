"""What every HTTP error test checks: the status, problem+json, and the words of the detail."""
from __future__ import annotations

import httpx

PROBLEM = "application/problem+json"


def problem(r: httpx.Response, status: int, *says: str) -> dict:
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith(PROBLEM)
    body = r.json()
    assert body["status"] == status and body["title"] and all(s in body["detail"] for s in says), body
    return body
