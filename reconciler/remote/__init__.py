"""The remote side: talking to the EngageLab API and reading an app's tasks completely.

``client`` (HTTP, retries), ``ratelimit`` (the adaptive pace), ``answers`` and ``responses``
(raw answers into typed results, refusing wrong shapes), ``inventory`` (every page, every detail),
``observed`` (what the server holds, as plain data for the planner) and ``history`` (msg-ids).
"""
