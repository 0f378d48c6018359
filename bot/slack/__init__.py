"""Inbound Slack layer: the bolt app, its listeners, and pure Block Kit."""
