"""Device-code sign-in (OAuth 2.0 device authorization grant, RFC 8628) for `InteractiveLoginAuthentication`.

A client asks for a code (`POST /oidc/oauth2/v2.0/devicecode`) and shows its user the short user
code; someone who may vouch for the user approves it — the server admin with
`aml device approve CODE --user NAME`, or the user on the server's `/oidc/device` page with a token
they already hold — and the client's polling of the token endpoint then yields tokens for that user.
Codes live in the server database (so the `aml` command on the host sees them), device codes only
as hashes; a code is used once and expires after 15 minutes.
"""
from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass

import sqlalchemy as sa

from azuremlcore.server.security.identity import metadata as _identity_metadata

LIFETIME_S = 900
# No vowels or look-alikes: a code never spells a word and is easy to read aloud and type.
_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"
_USER_CODE_LEN = 8

metadata = sa.MetaData()
device_codes = sa.Table(
    "server_device_codes", metadata,
    sa.Column("device_code_hash", sa.String(64), primary_key=True),
    sa.Column("user_code", sa.String(16), nullable=False, unique=True),
    sa.Column("client_id", sa.String(200), nullable=False),
    sa.Column("scope", sa.String(1024), nullable=False, default=""),
    sa.Column("created_time", sa.BigInteger, nullable=False),
    sa.Column("expires_time", sa.BigInteger, nullable=False),
    sa.Column("principal_id", sa.String(200)),  # set on approval
    sa.Column("denied", sa.Boolean, nullable=False, default=False),
)


def normalise_user_code(code: str) -> str:
    """A user code as stored: upper case, without the dash or spaces people type."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


def display_user_code(code: str) -> str:
    """A user code as shown: 'BCDF-GHJK'."""
    return f"{code[:4]}-{code[4:]}"


def _hash(device_code: str) -> str:
    return hashlib.sha256(device_code.encode()).hexdigest()


@dataclass
class Pending:
    """A code waiting for approval (what `aml device list` shows)."""

    user_code: str
    client_id: str
    expires_time: int


class DeviceCodes:
    """The device codes of a server, in its database."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        metadata.create_all(engine)
        _identity_metadata.create_all(engine)

    def start(self, client_id: str, scope: str, lifetime_s: int = LIFETIME_S,
              max_pending: int | None = None) -> tuple[str, str] | None:
        """A new (device code, user code) pair; the device code is returned once and stored hashed.

        Expired codes are purged first; None when max_pending codes already wait (the table stays bounded).
        """
        now = int(time.time() * 1000)
        with self._engine.begin() as conn:
            conn.execute(device_codes.delete().where(device_codes.c.expires_time < now))
            if max_pending is not None and conn.execute(
                    sa.select(sa.func.count()).select_from(device_codes)).scalar_one() >= max_pending:
                return None
            for _ in range(10):
                user_code = "".join(secrets.choice(_ALPHABET) for _ in range(_USER_CODE_LEN))
                taken = conn.execute(sa.select(device_codes.c.user_code)
                                     .where(device_codes.c.user_code == user_code)).first()
                if taken is None:
                    break
            device_code = secrets.token_urlsafe(32)
            conn.execute(device_codes.insert().values(
                device_code_hash=_hash(device_code), user_code=user_code, client_id=client_id[:200],
                scope=scope[:1024], created_time=now, expires_time=now + lifetime_s * 1000, principal_id=None,
                denied=False))
        return device_code, user_code

    def approve(self, user_code: str, principal_id: str) -> bool:
        """Sign the waiting device in as principal_id; False when the code is unknown, used or expired."""
        return self._decide(user_code, principal_id=principal_id)

    def deny(self, user_code: str) -> bool:
        """Refuse a code (the device's next poll gets access_denied); False when unknown or expired."""
        return self._decide(user_code, denied=True)

    def _decide(self, user_code: str, **values: object) -> bool:
        now = int(time.time() * 1000)
        with self._engine.begin() as conn:
            n = conn.execute(device_codes.update().where(
                device_codes.c.user_code == normalise_user_code(user_code), device_codes.c.expires_time >= now,
                device_codes.c.principal_id.is_(None), device_codes.c.denied.is_(False)).values(**values)).rowcount
        return n == 1

    def poll(self, device_code: str, client_id: str) -> tuple[str, str | None, str]:
        """(state, principal id, scope): state is 'approved' (the code is then used up), 'pending',
        'denied' or 'expired' (also for unknown codes)."""
        h = _hash(device_code)
        now = int(time.time() * 1000)
        with self._engine.begin() as conn:
            row = conn.execute(sa.select(device_codes).where(device_codes.c.device_code_hash == h)).first()
            if row is None or row.client_id != client_id or row.expires_time < now:
                return "expired", None, ""
            if row.denied:
                conn.execute(device_codes.delete().where(device_codes.c.device_code_hash == h))
                return "denied", None, row.scope
            if row.principal_id is None:
                return "pending", None, row.scope
            # Used once: of two racing polls only the one that deletes the row gets tokens.
            if conn.execute(device_codes.delete().where(device_codes.c.device_code_hash == h)).rowcount != 1:
                return "expired", None, ""
            return "approved", row.principal_id, row.scope

    def pending(self) -> list[Pending]:
        """Codes waiting for approval, oldest first."""
        now = int(time.time() * 1000)
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(device_codes).where(
                device_codes.c.expires_time >= now, device_codes.c.principal_id.is_(None),
                device_codes.c.denied.is_(False)).order_by(device_codes.c.created_time)).all()
        return [Pending(r.user_code, r.client_id, r.expires_time) for r in rows]
