"""Rendering: plans and drift reports as text (terminal), JSON (machines) and Markdown (PRs)."""
