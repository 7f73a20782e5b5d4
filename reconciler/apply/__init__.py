"""Applying a plan: the journalled executor (``executor``), the durable state of one apply
(``writer``), and the pure decision of what an interrupted apply still owes (``healing``), which
the read side needs too.
"""
