"""Admission rules: pure functions that return field errors for a create or an update."""
