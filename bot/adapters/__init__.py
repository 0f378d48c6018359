"""Outbound adapters: the registry, the Swarm, the store."""
