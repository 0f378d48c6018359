"""Pure domain: versions, stacks, plans, drift, notices -- no I/O, no SDKs."""
