"""Geometries as hex EWKB text, the fastest form PostGIS parses from COPY, built without a
Python loop over geometries.

Shapely writes plain little-endian WKB; numpy splices the SRID into each header and hex-encodes
the bytes. Geometries of equal WKB length (all points; all two-vertex drop lines) are handled as
one 2-D block, so the work is a few whole-array operations per distinct length.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import shapely

_HEX = np.frombuffer(b"0123456789ABCDEF", dtype=np.uint8)
# byte -> its two hex digits, as one uint16 so the encoding is a single 1-D take
_LUT = np.ascontiguousarray(np.stack([_HEX[np.arange(256) >> 4], _HEX[np.arange(256) & 15]], axis=1)).view("<u2").ravel()
_SRID_FLAG = 0x20  # high byte of the little-endian type word
_POINT_HEADER = np.frombuffer(b"\x01\x01\x00\x00\x20", dtype=np.uint8)  # LE, Point | SRID flag


def _srid_bytes(srid: int) -> np.ndarray:
    return np.frombuffer(np.array(srid, dtype="<u4").tobytes(), dtype=np.uint8)


def _ewkb_blocks(wkb: np.ndarray, srid: int) -> tuple[np.ndarray, np.ndarray]:
    """EWKB bytes of all geometries, concatenated, and their lengths."""
    n = len(wkb)
    lens = np.fromiter(map(len, wkb), dtype=np.int64, count=n)
    src = np.frombuffer(b"".join(wkb), dtype=np.uint8)
    starts = np.zeros(n, dtype=np.int64)
    np.cumsum(lens[:-1], out=starts[1:])
    out_lens = lens + 4
    out_starts = np.zeros(n, dtype=np.int64)
    np.cumsum(out_lens[:-1], out=out_starts[1:])
    dst = np.empty(int(out_lens.sum()), dtype=np.uint8)
    sb = _srid_bytes(srid)
    for length in np.unique(lens):
        idx = np.flatnonzero(lens == length)
        whole = len(idx) == n
        block = src.reshape(n, length) if whole else src[starts[idx, None] + np.arange(length)]
        eb = np.empty((len(idx), length + 4), dtype=np.uint8)
        eb[:, :5] = block[:, :5]
        eb[:, 4] |= _SRID_FLAG
        eb[:, 5:9] = sb
        eb[:, 9:] = block[:, 5:]
        if whole:
            return eb.ravel(), out_lens
        dst[out_starts[idx, None] + np.arange(length + 4)] = eb
    return dst, out_lens


def ewkb_hex(geoms: np.ndarray, srid: int) -> pa.Array:
    """Arrow string array of hex EWKB (little-endian, SRID set); missing geometries are null."""
    geoms = np.asarray(geoms, dtype=object)
    n = len(geoms)
    missing = shapely.is_missing(geoms)
    present = geoms[~missing] if missing.any() else geoms
    types = shapely.get_type_id(present)
    if len(present) and (types == 0).all() and not shapely.is_empty(present).any():
        # Points: the 25 EWKB bytes come straight from the coordinates.
        xy = shapely.get_coordinates(present).astype("<f8")
        eb = np.empty((len(present), 25), dtype=np.uint8)
        eb[:, :5] = _POINT_HEADER
        eb[:, 5:9] = _srid_bytes(srid)
        eb[:, 9:] = xy.view(np.uint8).reshape(-1, 16)
        body, lens = eb.ravel(), np.full(len(present), 25, dtype=np.int64)
    elif len(present):
        body, lens = _ewkb_blocks(shapely.to_wkb(present, hex=False, byte_order=1, include_srid=False), srid)
    else:
        body, lens = np.empty(0, dtype=np.uint8), np.empty(0, dtype=np.int64)
    all_lens = np.zeros(n, dtype=np.int64)
    all_lens[~missing] = 2 * lens
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(all_lens, out=offsets[1:])
    text = _LUT[body].view(np.uint8)
    validity = pa.py_buffer(np.packbits(~missing, bitorder="little").tobytes()) if missing.any() else None
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(text), validity,
                                           null_count=int(missing.sum()))
