"""The state file: the name -> schedule_id mapping, kept on disk safely.

``schema`` is its model, ``edits`` the pure changes apply makes to it, ``invariants`` what makes
a state unusable and how to repair it, ``binding`` the tie of a file to one app, ``store`` its
strict load and atomic save, ``lock`` the lock that lets one command at a time change it.
"""
