"""The planning core: manifests, the remote read and the state in, a checked Plan out.

Pure: nothing here reads a file through YAML, talks HTTP or knows the command line
(tests/test_architecture.py). ``canonical`` and ``diff`` compare bodies, ``timing``, ``firings``
and ``firing_changes`` know when triggers fire, ``actions`` are the plan's steps, ``safety`` the
rules checked before any call, ``inputs`` what a plan is made from and its digests, ``renames``
the declared renames, ``planner`` computes the Plan, ``artifact`` is the Plan itself (its file
and its freshness) and ``writes`` checks what a saved plan may write.
"""
