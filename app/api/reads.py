"""Marquez-shaped read API (filled in below)."""

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1", tags=["reads"])
