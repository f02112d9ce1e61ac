"""The report's content hash and its detached Ed25519 signature.

report.sha256 lists the SHA-256 of the report's content files, one `<hex>  <name>` line each
(the format `sha256sum -c report.sha256` checks): report.html, measurements.csv and
measurements.json (the store extract: the run, its positions and every measurement). The
content hash is the SHA-256 of that list; report.pdf prints it on every page.

`python -m reports sign RUN --key FILE` signs the list plus report.pdf's hash (Ed25519, RFC
8032, through the cryptography package) into report.sig; `verify` recomputes every hash and
checks the signature: a file edited after signing fails, naming the file.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

CONTENT_FILES = ("report.html", "measurements.csv", "measurements.json")
MANIFEST = "report.sha256"
SIGNATURE = "report.sig"
PDF = "report.pdf"


class SignatureError(Exception):
    """Signing or verification failed; the message says which file and why."""


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest_text(folder: Path) -> str:
    """The hash list of the content files of a report folder (all must exist)."""
    lines = []
    for name in CONTENT_FILES:
        path = folder / name
        if not path.is_file():
            raise SignatureError(f"{path}: missing (build the report with every format)")
        lines.append(f"{file_hash(path)}  {name}\n")
    return "".join(lines)


def content_hash(manifest: str) -> str:
    return hashlib.sha256(manifest.encode("ascii")).hexdigest()


def _payload(folder: Path, manifest: str) -> bytes:
    """What is signed: the hash list as stored, and report.pdf's hash when there is one."""
    pdf = folder / PDF
    extra = f"{file_hash(pdf)}  {PDF}\n" if pdf.is_file() else ""
    return (manifest + extra).encode("ascii")


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SignatureError(f"{path}: cannot read the key: {exc.strerror or exc}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise SignatureError(f"{path}: not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SignatureError(f"{path}: not an Ed25519 key ({type(key).__name__})")
    return key


def public_key_text(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def sign(folder: Path, key_path: Path) -> Path:
    """Write report.sig for the report in `folder`; the hash list must still match."""
    manifest = _checked_manifest(folder)
    key = load_private_key(key_path)
    payload = _payload(folder, manifest)
    doc = {
        "algorithm": "Ed25519",
        "public_key": public_key_text(key.public_key()),
        "content_hash": content_hash(manifest),
        "signed": payload.decode("ascii").splitlines(),
        "signature": base64.b64encode(key.sign(payload)).decode("ascii"),
    }
    out = folder / SIGNATURE
    out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return out


def _checked_manifest(folder: Path) -> str:
    """report.sha256 as stored, after checking that every file still has its hash."""
    path = folder / MANIFEST
    try:
        stored = path.read_text(encoding="ascii")
    except OSError as exc:
        raise SignatureError(f"{path}: cannot read: {exc.strerror or exc}") from None
    current = manifest_text(folder)
    if stored != current:
        changed = [line.split("  ", 1)[1].strip() for line in current.splitlines(True)
                   if line not in stored.splitlines(True)]
        raise SignatureError(f"{folder}: changed since the report was built: "
                             f"{', '.join(changed) or MANIFEST}")
    return stored


def write_key(path: Path) -> tuple[Path, Path]:
    """A new Ed25519 key: the private key (PEM, unencrypted, owner-only) and its .pub."""
    if path.exists():
        raise SignatureError(f"{path}: exists; not overwriting a key")
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    path.touch(mode=0o600)
    path.write_bytes(private)
    pub = path.with_name(path.name + ".pub")
    pub.write_bytes(public)
    return path, pub


@dataclass(frozen=True)
class Verified:
    content_hash: str
    public_key: str  # base64 of the raw key that made the signature
    files: list[str]


def verify(folder: Path, public_key: Path | None = None) -> Verified:
    """Check report.sig against the files and the key (the one given, else the one recorded
    in the signature: then only integrity is shown, not who signed)."""
    sig_path = folder / SIGNATURE
    try:
        doc = json.loads(sig_path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise SignatureError(f"{sig_path}: cannot read: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise SignatureError(f"{sig_path}: not a signature file ({exc})") from None
    manifest = _checked_manifest(folder)
    payload = _payload(folder, manifest)
    signed = "".join(f"{line}\n" for line in doc.get("signed", [])).encode("ascii")
    if signed != payload:
        lines = set(signed.decode("ascii").splitlines()) ^ set(payload.decode("ascii").splitlines())
        diff = sorted({line.split("  ", 1)[-1] for line in lines}) or [MANIFEST]
        raise SignatureError(f"{folder}: changed since it was signed: {', '.join(diff)}")
    if public_key is not None:
        try:
            key = serialization.load_pem_public_key(public_key.read_bytes())
        except (OSError, ValueError) as exc:
            raise SignatureError(f"{public_key}: not a PEM public key ({exc})") from None
        if not isinstance(key, Ed25519PublicKey):
            raise SignatureError(f"{public_key}: not an Ed25519 public key")
    else:
        try:
            key = Ed25519PublicKey.from_public_bytes(base64.b64decode(doc["public_key"]))
        except (KeyError, ValueError) as exc:
            raise SignatureError(f"{sig_path}: public_key: unreadable ({exc})") from None
    try:
        key.verify(base64.b64decode(doc.get("signature", "")), payload)
    except (InvalidSignature, ValueError):
        raise SignatureError(f"{sig_path}: the signature does not match the files and the "
                             "key") from None
    return Verified(content_hash(manifest), public_key_text(key),
                    [line.split("  ", 1)[1] for line in payload.decode("ascii").splitlines()])
