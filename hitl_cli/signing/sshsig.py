"""SSH signatures (OpenSSH's PROTOCOL.sshsig), verifiable with `ssh-keygen -Y verify -n hitl-verdict`.

Verification is the `sshsig` package's. Signing writes the envelope that package reads - its wrapper of the
signed data, and the outer blob of PROTOCOL.sshsig (magic, version, public key, namespace, reserved, hash
algorithm, signature) - around an ed25519 signature made by `cryptography`.
"""

import base64
import functools
import hashlib
import io

import sshsig
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sshsig.binary_io import SshWriter
from sshsig.sshsig import SshsigSignature, SshsigWrapper

from hitl_cli.signing.keys import KEY_TYPE

NAMESPACE = "hitl-verdict"
HASH = "sha512"


class InvalidSignature(ValueError):
    pass


def sign(message: bytes, key: Ed25519PrivateKey) -> str:
    """The armored signature (-----BEGIN SSH SIGNATURE-----) of message under hitl's namespace."""
    signed = SshsigWrapper(namespace=NAMESPACE.encode(), hash_algo=HASH.encode(), hash=hashlib.sha512(message).digest())
    openssh = key.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH)
    writer = SshWriter(io.BytesIO())
    writer.write(b"SSHSIG")
    writer.write_uint32(SshsigSignature.VERSION)
    writer.write_string(base64.b64decode(openssh.split()[1]))  # the key in SSH wire encoding
    writer.write_string(NAMESPACE.encode())
    writer.write_string(b"")  # reserved
    writer.write_string(HASH.encode())
    signature = SshWriter(io.BytesIO())
    signature.write_string(KEY_TYPE.encode())
    signature.write_string(key.sign(signed.to_bytes()))
    writer.write_string(signature.output_fh.getvalue())
    return SshsigSignature(writer.output_fh.getvalue()).to_armored()


def signer(message: bytes, armored: str) -> sshsig.PublicKey:
    """The key that signed message under hitl's namespace; InvalidSignature when the signature does not verify."""
    try:
        return sshsig.check_signature(message, armored, namespace=NAMESPACE)
    except Exception as error:  # the package raises its own, ValueError, NotImplementedError or AssertionError
        raise InvalidSignature(f"the signature does not verify ({type(error).__name__})") from None


@functools.lru_cache(maxsize=4096)
def claimed_fingerprint(armored: str) -> str | None:
    """The fingerprint of the key a signature names, without verifying it; None when it names none. It only reads
    the text (each verdict's is read by the judgement and again by its view), so it is remembered by the text;
    whether the signature verifies is never remembered (signer)."""
    try:
        return sshsig.PublicKey.from_ssh_encoding(SshsigSignature.from_armored(armored).public_key).sha256_str()
    except Exception:  # a malformed signature names no key
        return None
