"""Prometheus metrics: what each process did, and what the store holds.

Two kinds, served together at ``/metrics``:

- **Per process** (this module's ``PROCESS`` registry): fetches by outcome, fetch
  latency, posts ingested and digests sent by *this* process since it started, and
  the process's own CPU and memory.  Counters start at zero when a process starts;
  Prometheus's ``rate()`` and ``increase()`` handle that.  Scrape every process
  (each ``run``, and each ``worker --metrics-port``) directly, not through a load
  balancer, and add them up.
- **From the store** (``StoreCollector``, read at each scrape): blogs by status, blogs
  due and overdue.  Every process gives the same figures, so one scrape
  of any of them will do.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    ProcessCollector,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .store import Store

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OVERDUE = timedelta(minutes=15)  # due for longer than the shortest fetch interval

PROCESS = CollectorRegistry()
ProcessCollector(registry=PROCESS)

fetches = Counter(
    "townsquare_fetches",
    "Feeds fetched by this process, by outcome.",
    ["outcome"],
    registry=PROCESS,
)
fetch_seconds = Histogram(
    "townsquare_fetch_seconds",
    "How long fetching one feed took, redirects included (not parsing or storing).",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
    registry=PROCESS,
)
posts_ingested = Counter(
    "townsquare_posts_ingested",
    "Posts stored by this process, new or updated.",
    ["kind"],
    registry=PROCESS,
)
digests_sent = Counter(
    "townsquare_digests_sent",
    "Email digests sent by this process.",
    registry=PROCESS,
)
jobs_run = Counter(
    "townsquare_jobs",
    "Periodic jobs run by this process, by job and result.",
    ["job", "result"],
    registry=PROCESS,
)


class StoreCollector(Collector):
    """Figures read from the store at each scrape."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        figures = self.store.service_figures(datetime.now(UTC), overdue=OVERDUE)
        by_status = GaugeMetricFamily(
            "townsquare_sources", "Blogs listed, by status.", labels=["status"]
        )
        for status, count in sorted(figures.by_status.items()):
            by_status.add_metric([status], count)
        yield by_status
        yield GaugeMetricFamily(
            "townsquare_sources_due", "Enabled blogs due for fetching now.", value=figures.due
        )
        yield GaugeMetricFamily(
            "townsquare_sources_overdue",
            "Enabled blogs due for more than 15 minutes: the fetching is falling behind.",
            value=figures.overdue,
        )


def serve_process_metrics(host: str, port: int) -> int:
    """This process's metrics on their own small HTTP server (for ``townsquare worker``,
    which serves no website); gives the port."""
    httpd, _ = start_http_server(port, host, registry=PROCESS)
    return int(httpd.server_port)


def exposition(store: Store) -> bytes:
    """The text of ``/metrics``: this process's figures, then the store's."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StoreCollector(store))
    return generate_latest(PROCESS) + generate_latest(registry)
