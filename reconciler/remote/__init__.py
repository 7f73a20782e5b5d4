"""The remote side: talking to the EngageLab API and reading an app's tasks completely.

``client`` (the endpoints) over ``retries`` and ``transport`` (pools, one attempt) and ``tls``;
``ratelimit`` (the adaptive pace), ``limiter`` (applying it) and ``pacefile`` (kept between
runs); ``answers`` and ``responses`` (raw answers into typed results, refusing wrong shapes);
``listing`` (every page of the list) and ``inventory`` (with every detail);
``observed`` (what the server holds, as plain data for the planner) and ``history`` (msg-ids).
"""
