"""Signed checkpoints of the board log, and the anchors `board verify-log --against` reads.

The hash chain (board_log.py) proves the records are unedited and in order up to its head; it cannot prove
the head is the newest record. Certificate Transparency (RFC 9162) answers that with a signed tree head kept
outside the log, and consistency proofs between heads. This module keeps the idea at the size of a board log:

- a checkpoint is the log's record count and head hash, signed with the board's Ed25519 key (the key file is
  kept apart from the log: `--key FILE` or SPINEMETS_BOARD_KEY; docs/board.md);
- every minutes file pins the same two values (and a signed checkpoint when a key is given);
- `verify-log --against FILE` recomputes the chain and requires the pinned record to still be there with the
  pinned hash. A full recomputation stands in for CT's logarithmic consistency proof: a board log holds
  thousands of records, not billions, and the verifier holds the whole log anyway.

What this does not do: no Merkle tree (no inclusion proofs for a single record), no gossip between verifiers;
removing the newest records is found only against an anchor made after them.
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._internal import limits, reading
from .board_log import Anchor, Verification
from .errors import InputError

KEY_ENV_VAR = "SPINEMETS_BOARD_KEY"
FORMAT = "spinemets-board-checkpoint/1"
# What a minutes file says, in Markdown and PDF, and what verify-log reads back.
PIN_TEXT = "Board log pinned at {records} records, head hash {head}"
_PIN = re.compile(rb"Board log pinned at (\d+) records?, head hash `?([0-9a-f]{64})")
_SIGNED = re.compile(rb"Signed checkpoint: `?(\{[^`\n]*\})")
_BROKEN = re.compile(rb"the chain does NOT hold")


@dataclass(frozen=True)
class Key:
    """The board's key: the private key signs, its public half checks; `public_only` when given only that."""

    public: Any
    private: Any | None
    name: str

    @property
    def fingerprint(self) -> str:
        return _fingerprint(self.public)


def _fingerprint(public: Any) -> str:
    from cryptography.hazmat.primitives import serialization

    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def key_path(given: str | None) -> Path | None:
    """The key file from `--key`, else SPINEMETS_BOARD_KEY, else None (no signing)."""
    value = given or os.environ.get(KEY_ENV_VAR, "").strip()
    return Path(value).expanduser() if value else None


def generate(path: Path) -> Key:
    """A new Ed25519 key written to `path` (PEM, owner-only), never over an existing file."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InputError(f"{path}: exists; a board key is never overwritten (give a new path)") from None
    except OSError as err:
        raise InputError(f"{path}: cannot write ({err.strerror or err})") from None
    with os.fdopen(fd, "wb") as stream:
        stream.write(pem)
    return Key(private.public_key(), private, str(path))


def load_key(path: Path, log: Path | None = None) -> Key:
    """The key at `path`: a private key (signs and checks) or a public key (checks only), PEM."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

    if log is not None and _same_file(path, log):
        raise InputError(f"{path}: is the board log itself; keep the key apart from the log")
    raw = reading.read_bounded(path, limits.CASE_FILE, InputError, "give the key file")
    try:
        private = serialization.load_pem_private_key(raw, password=None)
    except (ValueError, TypeError):
        private = None
    if private is not None:
        if not isinstance(private, Ed25519PrivateKey):
            raise InputError(f"{path}: not an Ed25519 key")
        return Key(private.public_key(), private, str(path))
    try:
        public = serialization.load_pem_public_key(raw)
    except (ValueError, TypeError):
        raise InputError(f"{path}: not a PEM key (expected the board's Ed25519 key, from `board keygen`)") from None
    if not isinstance(public, Ed25519PublicKey):
        raise InputError(f"{path}: not an Ed25519 key")
    return Key(public, None, str(path))


def public_pem(key: Key) -> str:
    from cryptography.hazmat.primitives import serialization

    pem: bytes = key.public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return pem.decode()


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


def _body(records: int, head: str, signed_at: str, fingerprint: str) -> bytes:
    return json.dumps({"format": FORMAT, "records": records, "head": head, "signed_at": signed_at,
                       "key": fingerprint}, sort_keys=True, separators=(",", ":")).encode()


def sign(key: Key, result: Verification, *, now: dt.datetime | None = None) -> dict[str, Any]:
    """A signed checkpoint of a chain that holds: its count and head, when, by which key."""
    if key.private is None:
        raise InputError(f"{key.name}: a public key cannot sign; give the board's private key")
    if not result.ok:
        raise InputError("the chain does not hold: a checkpoint of it would vouch for a tampered log")
    signed_at = (now or dt.datetime.now(dt.UTC)).isoformat(timespec="seconds")
    body = _body(result.count, result.head, signed_at, key.fingerprint)
    return {"format": FORMAT, "records": result.count, "head": result.head, "signed_at": signed_at,
            "key": key.fingerprint, "signature": base64.b64encode(key.private.sign(body)).decode()}


def one_line(checkpoint: dict[str, Any]) -> str:
    return json.dumps(checkpoint, sort_keys=True, separators=(",", ":"))


def check(checkpoint: Any, key: Key, source: str) -> Anchor:
    """The anchor a checkpoint pins, once its signature holds under the board's key; InputError otherwise."""
    from cryptography.exceptions import InvalidSignature

    fields = ("records", "head", "signed_at", "key", "signature")
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != FORMAT or \
            any(not isinstance(checkpoint.get(f), int if f == "records" else str) for f in fields) or \
            isinstance(checkpoint.get("records"), bool):
        raise InputError(f"{source}: not a spinemets board checkpoint ({', '.join(fields)})")
    if checkpoint["key"] != key.fingerprint:
        raise SignatureProblem(f"{source}: signed by another key ({checkpoint['key']}), not the board's "
                               f"({key.fingerprint})")
    try:
        signature = base64.b64decode(checkpoint["signature"], validate=True)
        key.public.verify(signature, _body(checkpoint["records"], checkpoint["head"], checkpoint["signed_at"],
                                           checkpoint["key"]))
    except (InvalidSignature, ValueError):
        raise SignatureProblem(f"{source}: the checkpoint's signature does not hold under the board's key: "
                               "it was forged or altered") from None
    return Anchor(checkpoint["records"], checkpoint["head"], f"{source} (signed {checkpoint['signed_at']})",
                  signed=True)


class SignatureProblem(InputError):
    """An anchor whose signature does not hold: the log cannot be shown whole against it (exit 3)."""


def read_anchor(path: str, key: Key | None) -> Anchor:
    """The count and head pinned by a checkpoint or a minutes file (Markdown, JSON or PDF).

    A signed checkpoint, alone or inside minutes, is checked under `key` and preferred; without a key, minutes
    pin by their text alone (as good as the copy of the minutes kept), and a bare checkpoint is refused.
    """
    raw = reading.read_bounded(path, limits.RULE_FILE, InputError, "give a minutes or checkpoint file")
    stripped = raw.lstrip()
    if stripped.startswith(b"{"):
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if isinstance(data, dict) and data.get("format") == FORMAT:
            if key is None:
                raise InputError(f"{path}: a signed checkpoint is checked under the board's key: give --key FILE "
                                 f"or set {KEY_ENV_VAR}")
            return check(data, key, path)
        if isinstance(data, dict) and "entries" in data:
            log = data.get("log")
            if not isinstance(log, dict) or log.get("holds") is not True:
                raise InputError(f"{path}: these minutes pin no board log (made with recording off, or from a "
                                 "chain that did not hold)")
            if isinstance(log.get("checkpoint"), dict) and key is not None:
                return check(log["checkpoint"], key, path)
            records, head = log.get("records"), log.get("head")
            if isinstance(records, int) and not isinstance(records, bool) and isinstance(head, str) and \
                    re.fullmatch("[0-9a-f]{64}", head):
                return Anchor(records, head, path)
            raise InputError(f"{path}: the minutes' log.records and log.head do not read")
    signed = _SIGNED.search(raw)
    if signed is not None and key is not None:
        try:
            return check(json.loads(signed.group(1)), key, path)
        except ValueError:
            raise InputError(f"{path}: the signed checkpoint in the minutes does not read") from None
    pin = _PIN.search(raw)
    if pin is not None:
        return Anchor(int(pin.group(1)), pin.group(2).decode(), path)
    if _BROKEN.search(raw):
        raise InputError(f"{path}: these minutes were made from a chain that did not hold; they pin nothing")
    raise InputError(f"{path}: no board log head found (expected minutes from `board export` or a checkpoint "
                     "from `board checkpoint`)")
