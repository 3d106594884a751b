"""hitl: how much human involvement an AI data agent's next action needs, decided by OPA from policy."""

__version__ = "0.1.0"
