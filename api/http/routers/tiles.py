"""Vector tiles (placeholder: filled by the tiles slice)."""
from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["tiles"])
