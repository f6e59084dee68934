"""A lean HTTP/1.1 load generator for the benchmarks that post: N keep-alive connections on
asyncio streams, each sending its next request when the last answer is read. httpx's client
costs more CPU per request than the server's whole answer (on this 2-core machine the client
and the server share the cores), so a client that does little else than write bytes and read
Content-Length bodies measures the server, not itself. (wrk does the same; it is not installed
here.)

    lat, answers, seconds = asyncio.run(load("127.0.0.1", port, requests, concurrency, key))
    requests: [(method, path, json_body_or_None)]; answers: [(status, body bytes)]
"""
from __future__ import annotations

import asyncio
import json
import time

import numpy as np


def _request(method: str, path: str, body, key: str | None) -> bytes:
    data = b"" if body is None else json.dumps(body).encode()
    head = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: keep-alive"]
    if key:
        head.append(f"Authorization: Bearer {key}")
    if body is not None:
        head += ["Content-Type: application/json", f"Content-Length: {len(data)}"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + data


async def _answer(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    chunked = False
    for ln in lines[1:]:
        k, _, v = ln.partition(b":")
        k = k.strip().lower()
        if k == b"content-length":
            length = int(v)
        elif k == b"transfer-encoding" and b"chunked" in v.lower():
            chunked = True
    if not chunked:
        return status, await reader.readexactly(length)
    body = b""
    while True:
        size = int((await reader.readuntil(b"\r\n")).strip(), 16)
        chunk = await reader.readexactly(size + 2)
        if size == 0:
            return status, body
        body += chunk[:-2]


async def load(host: str, port: int, requests: list, concurrency: int, key: str | None = None):
    lat = np.zeros(len(requests))
    answers: list = [None] * len(requests)
    todo = iter(range(len(requests)))

    async def worker():
        reader, writer = await asyncio.open_connection(host, port)
        try:
            for i in todo:
                method, path, body = requests[i]
                t0 = time.perf_counter()
                writer.write(_request(method, path, body, key))
                answers[i] = await _answer(reader)
                lat[i] = time.perf_counter() - t0
        finally:
            writer.close()
    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return lat, answers, time.perf_counter() - t0
