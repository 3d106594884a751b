"""Signed verdicts: OpenSSH ed25519 keys, SSH signatures (SSHSIG) and the statement a person signs."""
