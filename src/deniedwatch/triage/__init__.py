"""Triage from the alert: the Slack buttons of a slack-app alert, the function URL that
receives their clicks, and the mutes they set (docs/triage.md).

``mutes.py`` (pure: who may be muted, what a mute covers), ``buttons.py`` (pure: the
Block Kit buttons and their values), ``store.py`` (mutes and replay claims in the dedup
table), ``request.py`` (Slack's signature, the payload), ``endpoint.py`` (the wiring
of one click). Stdlib plus the core on the function's import path; slack_sdk and boto3
lazily, as elsewhere.
"""
