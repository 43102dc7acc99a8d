"""The server's RS256 signing key (kept in the data dir) and the JWTs it issues and verifies."""
from __future__ import annotations

import base64
import functools
import hashlib
import os
import time
import uuid
from pathlib import Path
from typing import Any

AUDIENCE = "azuremlcore"


def _b64(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class SigningKey:
    """An RSA key pair stored as `<data dir>/keys/signing-key.pem` (created on first use, mode 0600)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / "keys" / "signing-key.pem"

    def _create(self) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.path.parent.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        # Written under a temporary name with owner-only permissions, then linked in place: never readable by
        # others, and of two processes creating it at once (a server and a runner), the first link wins and
        # both use that key.
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        try:
            os.link(tmp, self.path)
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)

    # The key is made and loaded on first use (the first JWT issued or checked), not at start: cryptography is a tenth of an
    # idle server's memory (7 MiB of Rust library) and 50 ms of its start, and a server whose callers use
    # user tokens (`aml token create`) never needs it.
    @functools.cached_property
    def _private(self) -> Any:
        from cryptography.hazmat.primitives import serialization

        if not self.path.exists():
            self._create()
        # The key is the server's own file (owner-only): checking its RSA maths again on every load cost
        # 50-90 ms, so it is skipped.
        return serialization.load_pem_private_key(self.path.read_bytes(), password=None,
                                                  unsafe_skip_rsa_key_validation=True)

    @functools.cached_property
    def public(self) -> Any:
        """The public key (verifies this server's tokens)."""
        return self._private.public_key()

    @functools.cached_property
    def kid(self) -> str:
        """The key's id, as in tokens' `kid` header."""
        numbers = self.public.public_numbers()
        return hashlib.sha256(f"{numbers.n}:{numbers.e}".encode()).hexdigest()[:16]

    @functools.cached_property
    def jwk(self) -> dict[str, str]:
        """The public key as a JWK (the issuer's key set)."""
        numbers = self.public.public_numbers()
        return {"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid, "n": _b64(numbers.n),
                "e": _b64(numbers.e)}

    def issue(self, subject: str, lifetime_s: int, issuer: str, **claims: Any) -> tuple[str, int]:
        """A signed access token for subject; returns (token, expiry as unix seconds)."""
        import jwt

        now = int(time.time())
        exp = now + int(lifetime_s)
        payload = {"iss": issuer, "sub": subject, "aud": AUDIENCE, "iat": now, "nbf": now - 5, "exp": exp,
                   "jti": uuid.uuid4().hex, **claims}
        return jwt.encode(payload, self._private, algorithm="RS256", headers={"kid": self.kid}), exp

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a token this server signed; raises jwt.InvalidTokenError (expired, forged, ...)."""
        import jwt

        # The issuer is the URL clients reached the server by, which differs behind proxies;
        # the signature with this server's own key is what proves the token is ours.
        return jwt.decode(token, self.public, algorithms=["RS256"], audience=AUDIENCE,
                          options={"verify_iss": False, "require": ["exp", "sub", "aud"]}, leeway=5)
