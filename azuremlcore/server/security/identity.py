"""Principals (service principals, users), their secrets and tokens (hashed), and role assignments.

Kept in the server's database next to the workspace tables, so `aml` admin commands run on the
same host change them while the server runs (the server re-reads assignments every few seconds).
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

ROLES = {"Reader": 1, "Contributor": 2, "Owner": 3}
_CACHE_S = 5.0

metadata = sa.MetaData()
principals = sa.Table(
    "server_principals", metadata,
    sa.Column("id", sa.String(200), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("display_name", sa.String(256)),
    sa.Column("secret_hash", sa.String(256)),
    sa.Column("created_time", sa.BigInteger, nullable=False),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
)
user_tokens = sa.Table(
    "server_user_tokens", metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("principal_id", sa.String(200), nullable=False, index=True),
    sa.Column("created_time", sa.BigInteger, nullable=False),
    sa.Column("expires_time", sa.BigInteger),
    sa.Column("revoked", sa.Boolean, nullable=False, default=False),
)
role_assignments = sa.Table(
    "server_role_assignments", metadata,
    sa.Column("principal_id", sa.String(200), primary_key=True),
    sa.Column("scope", sa.String(512), primary_key=True),
    sa.Column("role", sa.String(32), nullable=False),
)

USER_TOKEN_PREFIX = "amlu_"


def _hash_secret(secret: str, salt: bytes | None = None) -> str:
    # scrypt: a service principal's secret may be chosen by a person, so a fast hash is not enough.
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=2 ** 14, r=8, p=1, dklen=32)
    return f"scrypt${salt.hex()}${digest.hex()}"


def _check_secret(secret: str, stored: str | None) -> bool:
    if not stored or not stored.startswith("scrypt$"):
        return False
    _, salt, _digest = stored.split("$")
    return hmac.compare_digest(_hash_secret(secret, bytes.fromhex(salt)), stored)


def token_hash(token: str) -> str:
    """How a user token is stored: its SHA-256 (the token itself is 256 random bits)."""
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_scope(scope: str) -> str:
    """A role scope: '/' (everything) or an ARM id prefix such as '/subscriptions/s/resourceGroups/rg'."""
    scope = "/" + scope.strip().strip("/")
    return scope.lower() if scope != "/" else "/"


@dataclass
class Assignment:
    """One role of a principal at a scope."""

    principal_id: str
    scope: str
    role: str


class IdentityStore:
    """The principals, tokens and role assignments of a server, in its database."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        metadata.create_all(engine)
        self._lock = threading.Lock()
        self._roles: dict[str, tuple[float, list[Assignment]]] = {}
        self._tokens: dict[str, tuple[float, str | None]] = {}

    # ------------------------------------------------------------------ principals
    def create_service_principal(self, display_name: str, secret: str | None = None) -> tuple[str, str]:
        """A new service principal; returns (client id, secret). The secret is shown once and stored hashed."""
        import uuid

        client_id = str(uuid.uuid4())
        secret = secret or secrets.token_urlsafe(32)
        with self._engine.begin() as conn:
            conn.execute(principals.insert().values(id=f"sp:{client_id}", kind="service_principal",
                                                    display_name=display_name, secret_hash=_hash_secret(secret),
                                                    created_time=int(time.time() * 1000), disabled=False))
        return client_id, secret

    def create_user(self, name: str) -> str:
        """A user principal (id 'user:<name>'); existing users are kept."""
        pid = f"user:{name}"
        with self._engine.begin() as conn:
            if conn.execute(sa.select(principals.c.id).where(principals.c.id == pid)).first() is None:
                conn.execute(principals.insert().values(id=pid, kind="user", display_name=name,
                                                        created_time=int(time.time() * 1000), disabled=False))
        return pid

    def create_user_token(self, name: str, days: int | None = 90) -> str:
        """A new bearer token for a user (created if new); returned once, stored as a hash."""
        pid = self.create_user(name)
        token = USER_TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = int(time.time() * 1000)
        with self._engine.begin() as conn:
            conn.execute(user_tokens.insert().values(
                token_hash=token_hash(token), principal_id=pid, created_time=now,
                expires_time=now + days * 86_400_000 if days else None, revoked=False))
        return token

    def revoke_user_tokens(self, name: str) -> int:
        """Revoke every token of a user; returns how many."""
        with self._engine.begin() as conn:
            n = conn.execute(user_tokens.update().where(user_tokens.c.principal_id == f"user:{name}")
                             .values(revoked=True)).rowcount
        with self._lock:
            self._tokens.clear()
        return n

    def check_client_secret(self, client_id: str, secret: str) -> str | None:
        """The principal id when client_id/secret are right and enabled, else None."""
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(principals).where(principals.c.id == f"sp:{client_id}")).first()
        if row is None or row.disabled or not _check_secret(secret, row.secret_hash):
            return None
        return row.id

    def principal_for_user_token(self, token: str) -> str | None:
        """The user a token belongs to, or None (unknown, expired or revoked); cached briefly."""
        h = token_hash(token)
        now = time.monotonic()
        with self._lock:
            hit = self._tokens.get(h)
            if hit and hit[0] > now:
                return hit[1]
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(user_tokens).where(user_tokens.c.token_hash == h)).first()
        pid = None
        if row is not None and not row.revoked and (row.expires_time is None or row.expires_time > time.time() * 1000):
            pid = row.principal_id
        with self._lock:
            if len(self._tokens) > 10_000:
                self._tokens.clear()
            self._tokens[h] = (now + _CACHE_S, pid)
        return pid

    def list_principals(self) -> list[dict[str, Any]]:
        """Every principal with its roles (never secrets)."""
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(principals.c.id, principals.c.kind, principals.c.display_name,
                                          principals.c.disabled).order_by(principals.c.id)).all()
            roles = conn.execute(sa.select(role_assignments)).all()
        out = []
        for r in rows:
            out.append({"id": r.id, "kind": r.kind, "display_name": r.display_name, "disabled": r.disabled,
                        "roles": [{"scope": a.scope, "role": a.role} for a in roles if a.principal_id == r.id]})
        return out

    # ------------------------------------------------------------------ roles
    def grant(self, principal_id: str, scope: str, role: str) -> None:
        """Give a principal a role at a scope (replacing its role there)."""
        if role not in ROLES:
            raise ValueError(f"Unknown role {role!r}: use one of {', '.join(ROLES)}.")
        scope = normalise_scope(scope)
        with self._engine.begin() as conn:
            conn.execute(role_assignments.delete().where(role_assignments.c.principal_id == principal_id,
                                                         role_assignments.c.scope == scope))
            conn.execute(role_assignments.insert().values(principal_id=principal_id, scope=scope, role=role))
        with self._lock:
            self._roles.pop(principal_id, None)

    def revoke(self, principal_id: str, scope: str) -> None:
        """Remove a principal's role at a scope."""
        with self._engine.begin() as conn:
            conn.execute(role_assignments.delete().where(role_assignments.c.principal_id == principal_id,
                                                         role_assignments.c.scope == normalise_scope(scope)))
        with self._lock:
            self._roles.pop(principal_id, None)

    def assignments(self, principal_id: str) -> list[Assignment]:
        """A principal's roles (cached for a few seconds, so CLI changes apply quickly)."""
        now = time.monotonic()
        with self._lock:
            hit = self._roles.get(principal_id)
            if hit and hit[0] > now:
                return hit[1]
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(role_assignments).where(role_assignments.c.principal_id == principal_id)).all()
        found = [Assignment(r.principal_id, r.scope, r.role) for r in rows]
        with self._lock:
            self._roles[principal_id] = (now + _CACHE_S, found)
        return found

    def role_at(self, principal_id: str, arm_id: str) -> int:
        """The highest role rank (0 none, 1 Reader, 2 Contributor, 3 Owner) a principal has on an ARM id."""
        target = arm_id.lower()
        best = 0
        for a in self.assignments(principal_id):
            if a.scope == "/" or target == a.scope or target.startswith(a.scope + "/"):
                best = max(best, ROLES.get(a.role, 0))
        return best
