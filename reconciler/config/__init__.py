"""The project's configuration: ``reconciler.yaml`` and where a command connects.

``environments`` (which manifests, state, endpoint, zone and limits), ``policies`` (rules a team
checks in review), ``ignore`` (remote tasks owned elsewhere), ``connection`` (host, credentials,
pace) and ``session`` (the real API of an environment, or the embedded emulator).
"""
