"""Trusting CDS clients: the JWT each call carries, signed by an issuer the hospital configured (CDS Hooks 2.0)."""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt
import yaml

from ..errors import InputError, Problem

RSA_ALGORITHMS = ("RS256", "RS384", "RS512")
EC_ALGORITHMS = ("ES256", "ES384", "ES512")
MAX_LIFETIME = 300   # the spec's exp: "no more than 5 minutes in the future"
LEEWAY = 30          # seconds of clock difference tolerated
JWKS_TTL = 3600


class Unauthorized(Exception):
    """The call carries no JWT, or one this service cannot trust (401)."""


@dataclass
class Issuer:
    """A trusted CDS client: its public keys inline or from a file, or its JWK Set URL."""

    name: str
    jwks: dict[str, Any] | None = None
    jwks_url: str | None = None
    fetched_at: float = 0.0


@dataclass
class Trust:
    """The issuers a hospital trusts, and the audience (this service's public base URL) when behind a proxy."""

    issuers: dict[str, Issuer] = field(default_factory=dict)
    audience: str | None = None
    _seen: dict[tuple[str, str], float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def required(self) -> bool:
        return bool(self.issuers)

    async def verify(self, authorization: str | None, endpoint_url: str, client: httpx.AsyncClient) -> dict[str, Any]:
        """The token's claims, or Unauthorized saying why (never echoing the token)."""
        if not authorization or not authorization.lower().startswith("bearer "):
            raise Unauthorized("a Bearer JWT is required (Authorization header)")
        token = authorization[7:].strip()
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise Unauthorized("the Authorization header does not hold a JWT") from None
        issuer = self.issuers.get(str(unverified.get("iss")))
        if issuer is None:
            raise Unauthorized("the JWT's issuer is not one this service trusts")
        key = await self._key(issuer, header.get("kid"), client)
        algorithms = list(RSA_ALGORITHMS if key.key_type == "RSA" else EC_ALGORITHMS)
        audiences = [endpoint_url]
        if self.audience:  # behind a proxy the public URL differs from the one the request arrived at
            audiences.append(self.audience.rstrip("/") + "/cds-services" + endpoint_url.split("/cds-services", 1)[-1])
        try:
            claims = jwt.decode(token, key.key, algorithms=algorithms, audience=audiences, issuer=issuer.name,
                                leeway=LEEWAY, options={"require": ["exp", "iat", "iss", "aud", "jti"]})
        except jwt.PyJWTError as err:
            raise Unauthorized(f"the JWT does not verify ({type(err).__name__})") from None
        now = time.time()
        if float(claims["exp"]) > now + MAX_LIFETIME + LEEWAY:
            raise Unauthorized("the JWT lives longer than 5 minutes")
        self._once(issuer.name, str(claims["jti"]), float(claims["exp"]), now)
        return claims

    def _once(self, issuer: str, jti: str, exp: float, now: float) -> None:
        with self._lock:
            for k in [k for k, until in self._seen.items() if until < now - LEEWAY]:
                del self._seen[k]
            if (issuer, jti) in self._seen:
                raise Unauthorized("the JWT was already used (jti seen before)")
            self._seen[(issuer, jti)] = exp

    async def _key(self, issuer: Issuer, kid: str | None, client: httpx.AsyncClient) -> Any:
        for attempt in range(2):
            if issuer.jwks_url and (issuer.jwks is None or attempt == 1 or
                                    time.time() - issuer.fetched_at > JWKS_TTL):
                issuer.jwks = await _fetch_jwks(issuer.jwks_url, client)
                issuer.fetched_at = time.time()
            keys = _keys(issuer.jwks or {"keys": []})
            if kid is not None and kid in keys:
                return keys[kid]
            if kid is None and len(keys) == 1:
                return next(iter(keys.values()))
            if not issuer.jwks_url:
                break
        raise Unauthorized("no key of the issuer matches the JWT's kid")


def _keys(jwks: dict[str, Any]) -> dict[str | None, Any]:
    out: dict[str | None, Any] = {}
    for item in jwks.get("keys", []):
        if not isinstance(item, dict) or item.get("kty") not in ("RSA", "EC") or "d" in item:
            continue  # only public asymmetric keys are trusted
        try:
            out[item.get("kid")] = jwt.PyJWK(item)
        except jwt.PyJWTError:
            continue
    return out


async def _fetch_jwks(url: str, client: httpx.AsyncClient) -> dict[str, Any]:
    try:
        response = await client.get(url, headers={"Accept": "application/json"})
        body = response.json() if response.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        body = None
    if not isinstance(body, dict):
        raise Unauthorized("the issuer's JWK Set could not be fetched")
    return body


def load_trust(path: str | Path | None) -> Trust:
    """Trusted issuers from a YAML or JSON file:

        audience: https://cds.hospital.example      # optional: this service's public base URL
        issuers:
          https://ehr.hospital.example:
            jwks_url: https://ehr.hospital.example/.well-known/jwks.json   # or
            jwks_file: ehr-jwks.json                                       # or
            jwks: {keys: [...]}
    """
    if path is None:
        return Trust()
    name = str(path)
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise InputError(f"{name}: cannot read the trusted issuers ({err})") from None
    if not isinstance(data, dict) or not isinstance(data.get("issuers"), dict) or not data["issuers"]:
        raise InputError(f"{name}: expected a mapping with 'issuers' (issuer -> jwks, jwks_file or jwks_url)")
    issuers: dict[str, Issuer] = {}
    problems: list[Problem] = []
    for iss, given in data["issuers"].items():
        spec = given or {}
        jwks = spec.get("jwks")
        if spec.get("jwks_file"):
            try:
                jwks = json.loads((Path(path).parent / spec["jwks_file"]).read_text(encoding="utf-8"))
            except (OSError, ValueError) as err:
                problems.append(Problem(f"cannot read jwks_file ({err})", file=name, field=f"issuers.{iss}"))
                continue
        if jwks is None and not spec.get("jwks_url"):
            problems.append(Problem("give jwks, jwks_file or jwks_url", file=name, field=f"issuers.{iss}"))
            continue
        if jwks is not None and not _keys(jwks):
            problems.append(Problem("no public RSA or EC key in the JWK Set", file=name, field=f"issuers.{iss}"))
            continue
        issuers[str(iss)] = Issuer(str(iss), jwks=jwks, jwks_url=spec.get("jwks_url"))
    if problems:
        raise InputError(f"{name}: the trusted issuers are not usable", problems)
    audience = data.get("audience")
    return Trust(issuers=issuers, audience=str(audience) if audience else None)
