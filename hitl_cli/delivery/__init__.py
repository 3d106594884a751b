"""Delivering interrupts and digests to people: the outbox's writers, its deliverer, and the channels."""
