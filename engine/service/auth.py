"""Trusting CDS clients: the JWT each call carries, signed by an issuer the hospital configured (CDS Hooks 2.0)."""
from __future__ import annotations

import asyncio
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
from .outbound import Refused, allowed_servers, read_json

RSA_ALGORITHMS = ("RS256", "RS384", "RS512")
EC_ALGORITHMS = ("ES256", "ES384", "ES512")
MAX_LIFETIME = 300   # the spec's exp: "no more than 5 minutes in the future"
LEEWAY = 30          # seconds of clock difference tolerated
JWKS_TTL = 3600
# An unknown kid (or an unreachable JWK Set) asks the issuer again at most this often: a caller cannot make
# every request a fetch.
JWKS_MIN_REFETCH = 60.0
JWKS_MAX_BYTES = 256_000
JWKS_SECONDS = 5.0   # for the whole fetch: a JWK Set that drips in holds every call that waits for it


class Unauthorized(Exception):
    """The call carries no JWT, or one this service cannot trust (401)."""


@dataclass
class Issuer:
    """A trusted CDS client: its public keys inline or from a file, or its JWK Set URL."""

    name: str
    jwks: dict[str, Any] | None = None
    jwks_url: str | None = None
    fetched_at: float = 0.0      # the last attempt, whether it gave keys or not
    loaded_at: float = 0.0       # when the keys held were fetched
    _lock: asyncio.Lock | None = field(default=None, repr=False)


@dataclass
class Trust:
    """The issuers a hospital trusts, and the audience: this service's base URL as its clients call it, which
    every JWT's `aud` must name (never taken from the request's Host header, which the caller writes)."""

    issuers: dict[str, Issuer] = field(default_factory=dict)
    audience: str | None = None
    _seen: dict[tuple[str, str], float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def required(self) -> bool:
        return bool(self.issuers)

    async def verify(self, authorization: str | None, path: str, client: httpx.AsyncClient) -> dict[str, Any]:
        """The token's claims for a call of the endpoint at path, or Unauthorized saying why (never echoing the
        token)."""
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
        if not self.audience:
            raise Unauthorized("this service has no audience configured")
        audience = self.audience.rstrip("/") + path
        try:
            claims = jwt.decode(token, key.key, algorithms=algorithms, audience=audience, issuer=issuer.name,
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
        if issuer.jwks_url:
            expired = issuer.jwks is None or time.time() - issuer.loaded_at > JWKS_TTL
            if (expired or _pick(_keys(issuer.jwks or {}), kid) is None) and \
                    time.time() - issuer.fetched_at >= JWKS_MIN_REFETCH:
                if issuer._lock is None:
                    issuer._lock = asyncio.Lock()
                async with issuer._lock:  # concurrent calls that miss fetch once
                    if time.time() - issuer.fetched_at >= JWKS_MIN_REFETCH:
                        issuer.fetched_at = time.time()
                        fetched = await read_json(client, issuer.jwks_url, JWKS_MAX_BYTES, JWKS_SECONDS)
                        if isinstance(fetched, dict) and isinstance(fetched.get("keys"), list):
                            issuer.jwks, issuer.loaded_at = fetched, time.time()
            if issuer.jwks is None:
                raise Unauthorized("the issuer's JWK Set could not be fetched")
        found = _pick(_keys(issuer.jwks or {}), kid)
        if found is None:
            raise Unauthorized("no key of the issuer matches the JWT's kid")
        return found


def _pick(keys: dict[str | None, Any], kid: str | None) -> Any:
    if kid is not None:
        return keys.get(kid)
    return next(iter(keys.values())) if len(keys) == 1 else None


def _keys(jwks: Any) -> dict[str | None, Any]:
    out: dict[str | None, Any] = {}
    items = jwks.get("keys") if isinstance(jwks, dict) else None
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict) or item.get("kty") not in ("RSA", "EC") or "d" in item:
            continue  # only public asymmetric keys are trusted
        try:
            out[item.get("kid")] = jwt.PyJWK(item)
        except jwt.PyJWTError:
            continue
    return out


@dataclass(frozen=True)
class ServiceFile:
    """What the service's configuration file (`serve --issuers FILE`) says."""

    trust: Trust
    fhir_servers: tuple[str, ...] = ()


_TOP_KEYS = ("audience", "issuers", "fhir_servers")
_ISSUER_KEYS = ("jwks", "jwks_file", "jwks_url")


def load_service_file(path: str | Path) -> ServiceFile:
    """The service's configuration from a YAML or JSON file; InputError naming the first field that is wrong:

        audience: https://cds.hospital.example      # this service's base URL as the EHR calls it (the JWT's aud)
        issuers:
          https://ehr.hospital.example:
            jwks_url: https://ehr.hospital.example/.well-known/jwks.json   # or
            jwks_file: ehr-jwks.json                                       # or
            jwks: {keys: [...]}
        fhir_servers:                               # optional: the FHIR base URLs the service may fetch from
          - https://ehr.hospital.example/fhir
    """
    name = str(path)

    def wrong(where: str, message: str) -> InputError:
        return InputError(str(Problem(message, file=name, field=where)))
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError, yaml.YAMLError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise InputError(f"{name}: cannot read the service configuration ({reason})") from None
    if not isinstance(data, dict):
        raise InputError(f"{name}: expected a mapping with 'audience' and 'issuers'")
    for key in data:
        if key not in _TOP_KEYS:
            raise wrong(str(key), f"unknown key; expected {', '.join(_TOP_KEYS)}")
    if not isinstance(data.get("issuers"), dict) or not data["issuers"]:
        raise wrong("issuers", "expected a mapping of issuer -> jwks, jwks_file or jwks_url")
    audience = data.get("audience")
    try:
        if not isinstance(audience, str):
            raise Refused("missing")
        allowed_servers([audience], "audience")
    except Refused:
        raise wrong("audience", "expected this service's base URL as its clients call it, e.g. "
                    "https://cds.hospital.example (every JWT's aud is that URL and the endpoint's path)") from None
    issuers: dict[str, Issuer] = {}
    for iss, spec in data["issuers"].items():
        where = f"issuers.{iss}"
        if not isinstance(iss, str) or not iss:
            raise wrong(where, "an issuer is a non-empty string (the JWT's iss)")
        if not isinstance(spec, dict) or [k for k in spec if k in _ISSUER_KEYS] != list(spec) or len(spec) != 1:
            raise wrong(where, "expected a mapping with exactly one of jwks, jwks_file, jwks_url")
        (kind, value), = spec.items()
        where += f".{kind}"
        jwks: Any = None
        if kind == "jwks_url":
            try:
                if not isinstance(value, str):
                    raise Refused("not a string")
                allowed_servers([value], where)
            except Refused:
                raise wrong(where, "expected an http(s) URL") from None
        elif kind == "jwks_file":
            if not isinstance(value, str) or not value:
                raise wrong(where, "expected a file name")
            try:
                jwks = json.loads((Path(path).parent / value).read_text(encoding="utf-8"))
            except (OSError, ValueError, RecursionError) as err:
                raise wrong(where, f"cannot read the JWK Set ({type(err).__name__})") from None
        else:
            jwks = value
        if kind != "jwks_url" and not _keys(jwks):
            raise wrong(where, "expected a JWK Set ({keys: [...]}) with a public RSA or EC key")
        issuers[iss] = Issuer(iss, jwks=jwks, jwks_url=value if kind == "jwks_url" else None)
    servers = data.get("fhir_servers", [])
    if not isinstance(servers, list) or not all(isinstance(u, str) for u in servers):
        raise wrong("fhir_servers", "expected a list of FHIR base URLs")
    try:
        allowed_servers(servers, "fhir_servers")
    except Refused as err:
        raise wrong("fhir_servers", str(err).split(": ", 1)[-1]) from None
    return ServiceFile(Trust(issuers=issuers, audience=audience), tuple(servers))


def load_trust(path: str | Path | None) -> Trust:
    """The trusted issuers and audience of a service configuration file (no file: nobody is trusted)."""
    return load_service_file(path).trust if path is not None else Trust()
