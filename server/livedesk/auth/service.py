"""Operator tokens and browser sessions. Tokens are random and high-entropy, so a plain
SHA-256 is the right hash (a slow KDF protects guessable passwords, which these are not)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from livedesk.auth.models import ROLES, Operator, OperatorSession
from livedesk.core.clock import utcnow

SESSION_COOKIE = "livedesk_session"


def hash_secret(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


async def add_operator(session: AsyncSession, name: str, role: str) -> tuple[Operator, str]:
    """Create an operator; returns it with its token, which is never stored or shown again."""
    if role not in ROLES:
        raise ValueError(f"role must be one of {', '.join(ROLES)}")
    token = f"ld_{secrets.token_urlsafe(32)}"
    operator = Operator(name=name, role=role, token_hash=hash_secret(token))
    session.add(operator)
    await session.flush()
    return operator, token


async def authenticate_token(session: AsyncSession, token: str) -> Operator | None:
    if not token:
        return None
    query = select(Operator).where(Operator.token_hash == hash_secret(token))
    return (await session.execute(query)).scalar_one_or_none()


async def open_session(session: AsyncSession, operator: Operator, ttl_s: int) -> str:
    """A new browser session; returns the cookie value (only its hash is stored)."""
    session_id = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        OperatorSession(
            id_hash=hash_secret(session_id),
            operator_id=operator.id,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_s),
        )
    )
    await session.flush()
    return session_id


async def operator_for_session(session: AsyncSession, session_id: str) -> Operator | None:
    if not session_id:
        return None
    query = (
        select(Operator)
        .join(OperatorSession, OperatorSession.operator_id == Operator.id)
        .where(OperatorSession.id_hash == hash_secret(session_id))
        .where(OperatorSession.expires_at > utcnow())
    )
    return (await session.execute(query)).scalar_one_or_none()


async def close_session(session: AsyncSession, session_id: str) -> None:
    await session.execute(
        delete(OperatorSession).where(OperatorSession.id_hash == hash_secret(session_id))
    )


async def rotate_operator(session: AsyncSession, name: str, role: str) -> tuple[Operator, str]:
    """Create the operator, or give an existing one a new token (the demo re-runs this)."""
    existing = (
        await session.execute(select(Operator).where(Operator.name == name))
    ).scalar_one_or_none()
    if existing is None:
        return await add_operator(session, name, role)
    token = f"ld_{secrets.token_urlsafe(32)}"
    existing.role, existing.token_hash = role, hash_secret(token)
    await session.flush()
    return existing, token
