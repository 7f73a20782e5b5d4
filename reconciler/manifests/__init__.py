"""Manifests: the YAML files of ``schedules/`` read into validated models, and written back.

``yamlread`` parses (libyaml, the project's YAML 1.2 rules), ``load`` finds and loads files,
``layers`` merges shared defaults (``defaults``), ``extends`` bases (``bases``) and environment
overlays (``overlays``) around a manifest, their files read once by ``layer_files``, shown
by ``validate --explain`` (``explain``) and described by ``layer_schema``; ``models``,
``push`` and ``base`` are the pydantic models, ``messages`` turns their errors into manifest
messages, and ``export`` writes a manifest for a remote task.
"""
