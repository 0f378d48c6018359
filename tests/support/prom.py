"""Reading a /metrics answer the way Prometheus does: prometheus_client's own text parser, samples by labels."""

from __future__ import annotations

import requests
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse(text: str) -> Samples:
    """Every sample of a text exposition, keyed by its name and its sorted labels."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def scrape(base_url: str) -> Samples:
    resp = requests.get(f"{base_url}/metrics", timeout=5)
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/plain"), resp.text[:300]
    return parse(resp.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every label set that has at least the given labels."""
    return sum(v for (n, ls), v in samples.items() if n == name and set(labels.items()) <= set(ls))
