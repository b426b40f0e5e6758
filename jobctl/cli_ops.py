"""Operator commands beyond the core: schedule, why, inspect (registered on the main app)."""
