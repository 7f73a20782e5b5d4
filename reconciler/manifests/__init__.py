"""Manifests: the YAML files of ``schedules/`` read into validated models, and written back.

``yamlread`` parses (libyaml, the project's YAML 1.2 rules), ``load`` finds and loads files,
``layers`` applies shared defaults, ``extends`` bases and environment overlays, ``models``,
``push`` and ``base`` are the pydantic models, ``messages`` turns their errors into manifest
messages, and ``export`` writes a manifest for a remote task.
"""
