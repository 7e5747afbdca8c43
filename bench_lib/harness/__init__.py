"""Timing, memory and result records (the training harness grows here)."""
