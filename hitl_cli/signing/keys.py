"""OpenSSH ed25519 keys: the public keys a profile lists (git's allowed_signers format) and a person's
private key file."""

from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import load_ssh_private_key
from sshsig import PublicKey

from hitl_cli.errors import UsageError

KEY_TYPE = "ssh-ed25519"


@lru_cache(maxsize=1024)
def public_key(line: str) -> PublicKey:
    """`ssh-ed25519 AAAA... comment` as a key; ValueError saying why when it is not one. Remembered by the line
    (a queue compares every signer with the same few listed keys): the key is what the line says, nothing more."""
    parts = line.split()
    if len(parts) < 2 or parts[0] != KEY_TYPE:
        raise ValueError(f"expected an OpenSSH ed25519 public key ({KEY_TYPE} AAAA... comment)")
    try:
        key = PublicKey.from_openssh_str(" ".join(parts[:2]))
    except (ValueError, NotImplementedError, TypeError):
        key = None
    if key is None or key.algo_name != KEY_TYPE:
        raise ValueError("is not a valid ed25519 public key (its base64 does not decode to one)")
    return key


def fingerprint(key: PublicKey) -> str:
    """SHA256:... as `ssh-keygen -l` prints it."""
    return key.sha256_str()


def private_key(path: Path) -> Ed25519PrivateKey:
    """An unencrypted OpenSSH ed25519 private key file (`ssh-keygen -t ed25519`)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise UsageError(f"--key {path}: cannot be read: {error.strerror}") from None
    try:
        key = load_ssh_private_key(data, password=None)
    except TypeError:
        raise UsageError(
            f"--key {path}: the key is protected by a passphrase; hitl signs with an unencrypted key file "
            "(keep it on an encrypted disk or a hardware token's exported stub)"
        ) from None
    except (ValueError, Exception) as error:  # cryptography raises several types for malformed files
        raise UsageError(f"--key {path}: not an OpenSSH private key ({type(error).__name__})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise UsageError(f"--key {path}: not an ed25519 key; hitl signs with ed25519 keys only")
    return key
