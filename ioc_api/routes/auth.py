"""OAuth2 password flow: a username and password for a short-lived bearer token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from ioc_api.auth.accounts import authenticate
from ioc_api.auth.deps import CurrentPrincipal, NotAuthenticatedError
from ioc_api.auth.tokens import issue_token
from ioc_api.deps import DbConn

router = APIRouter(tags=["auth"])


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class Me(BaseModel):
    name: str
    role: str
    tenant_id: str | None


@router.post("/auth/token", responses={401: {"description": "Wrong username or password"}})
def token(
    request: Request, conn: DbConn, form: Annotated[OAuth2PasswordRequestForm, Depends()]
) -> Token:
    principal = authenticate(conn, form.username, form.password)
    if principal is None:
        raise NotAuthenticatedError("wrong username or password")
    access, ttl = issue_token(principal, request.app.state.ioc.settings)
    return Token(access_token=access, expires_in=ttl)


@router.get("/auth/me")
def me(principal: CurrentPrincipal) -> Me:
    return Me(name=principal.name, role=principal.role.value, tenant_id=principal.tenant_id)
