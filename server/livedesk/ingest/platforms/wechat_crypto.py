"""WeChat's message signature and safe-mode (安全模式) encryption, as its WXBizMsgCrypt does.

- `signature` = hex sha1 of the sorted, concatenated `[token, timestamp, nonce]` (the URL check
  and every push); `msg_signature` adds the ciphertext to the list (safe mode).
- The ciphertext is base64 of AES-256-CBC with key = base64-decoded EncodingAESKey (43
  characters + "="), IV = the key's first 16 bytes, PKCS#7 padding to 32-byte blocks, over
  `16 random bytes + the message's length (4 bytes, big-endian) + message + appid`.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
from collections.abc import Sequence

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from livedesk.ingest.platforms.digests import sha1_hex
from livedesk.ingest.signing import SignatureError

AES_KEY_LENGTH = 43
_BLOCK = 32  # WeChat pads to 32 bytes, not AES's 16


class DecryptError(ValueError):
    """The ciphertext is not one WeChat made with this key (or for this app)."""


def signature(*parts: str) -> str:
    return sha1_hex("".join(sorted(parts)).encode())


def check_signature(given: str | None, name: str, tokens: Sequence[str], *parts: str) -> None:
    """Raise `SignatureError` unless `given` is the signature of `parts` with one of `tokens`."""
    if not given:
        raise SignatureError(f"missing {name}", "signature_missing")
    for token in tokens:
        if hmac.compare_digest(given.lower().encode(), signature(token, *parts).encode()):
            return
    raise SignatureError(f"{name} does not match")


def aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte key of a 43-character EncodingAESKey; ValueError for anything else."""
    if len(encoding_aes_key) != AES_KEY_LENGTH:
        raise ValueError(f"EncodingAESKey must be {AES_KEY_LENGTH} characters")
    try:
        return base64.b64decode(encoding_aes_key + "=", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("EncodingAESKey is not base64") from exc


def decrypt(ciphertext: str, key: bytes, app_id: str | None) -> bytes:
    """The message inside `ciphertext`; `DecryptError` when it is not (or not for `app_id`)."""
    try:
        raw = base64.b64decode(ciphertext, validate=True)
    except (binascii.Error, ValueError):
        raise DecryptError("Encrypt is not base64") from None
    if not raw or len(raw) % 16:
        raise DecryptError("Encrypt is not whole AES blocks")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).decryptor()
    plain = decryptor.update(raw) + decryptor.finalize()
    pad = plain[-1]
    if not 1 <= pad <= _BLOCK or plain[-pad:] != bytes([pad]) * pad:
        raise DecryptError("bad padding: not encrypted with this EncodingAESKey")
    content = plain[16:-pad]
    if len(content) < 4:
        raise DecryptError("too short")
    length = int.from_bytes(content[:4], "big")
    message, receiver = content[4 : 4 + length], content[4 + length :]
    if len(message) != length:
        raise DecryptError("the length does not fit the message")
    if app_id is not None and receiver.decode(errors="replace") != app_id:
        raise DecryptError("encrypted for another app")
    return message


def encrypt(message: bytes, key: bytes, app_id: str, *, random16: bytes | None = None) -> str:
    """The other direction, for the simulator and tests: what WeChat would send."""
    content = (random16 or os.urandom(16)) + len(message).to_bytes(4, "big") + message
    content += app_id.encode()
    pad = _BLOCK - len(content) % _BLOCK
    content += bytes([pad]) * pad
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(content) + encryptor.finalize()).decode()
