"""Device profiles: what each kind measures, in which unit, how often (devices/profile_data)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from devices.profiles import DeviceProfile, load_profiles
from ioc_api.auth.scope import Reader

router = APIRouter(tags=["profiles"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "Unknown kind"}}


@router.get("/profiles")
def profiles_index(principal: Reader) -> list[DeviceProfile]:
    """Every device kind with its metrics (UCUM units, plausible ranges, intervals)."""
    return sorted(load_profiles().values(), key=lambda p: p.kind)


@router.get("/profiles/{kind}", responses=_NOT_FOUND)
def profile_detail(principal: Reader, kind: str) -> DeviceProfile:
    profile = load_profiles().get(kind)
    if profile is None:
        raise HTTPException(404, f"no device kind {kind!r}")
    return profile
