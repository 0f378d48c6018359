"""Use cases: resolve, plan, deploy, status, drift, rollback, watch, audit trail."""
