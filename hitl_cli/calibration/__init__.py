"""Confidence calibration: outcomes in, reliability tables out, stored where the policy reads them.

outcomes.py gathers (agent, action type, confidence, correct) from the store and JSONL files; metrics.py bins
them into reliability tables (ECE, Brier); storage.py reads and writes the calibration file the engine loads
as data.hitl.calibration; plot.py draws the reliability diagram.
"""
