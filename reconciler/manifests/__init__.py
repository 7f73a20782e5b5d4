"""Manifests: the YAML files of ``schedules/`` read into validated models, and written back.

``find`` finds the files and reads their text, ``yamlread`` parses them (libyaml) into
documents through ``yamlconvert`` (nodes into data and positions) and ``yamlscalars`` (the
project's YAML 1.2 rules); ``yamlpaths`` names places in them. ``load`` loads files into models;
``layers`` merges shared defaults (``defaults``), ``extends`` bases (``bases``) and environment
overlays (``overlays``) around a manifest, their files read once by ``layer_files``, shown
by ``validate --explain`` (``explain``) and described by ``layer_schema``; ``models``,
``trigger``, ``push`` and ``base`` are the pydantic models, ``messages`` turns their errors into
manifest messages, and ``export`` writes a manifest for a remote task.
"""
