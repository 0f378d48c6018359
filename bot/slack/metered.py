"""The Slack Web API client that counts its calls and failures for Prometheus."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from bot import metrics


class MeteredWebClient(WebClient):
    """The SDK's client counting every Web API call and every failed one (tagpin_slack_api_*): all methods
    (chat_postMessage, auth_test, …) go through api_call, after the retry handlers had their turn."""

    def api_call(self, api_method: str, *args: Any, **kwargs: Any) -> SlackResponse:
        metrics.SLACK_CALLS.labels(method=api_method).inc()
        try:
            return super().api_call(api_method, *args, **kwargs)
        except SlackApiError as exc:
            error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
            metrics.SLACK_ERRORS.labels(method=api_method, error=str(error or exc.response.status_code)).inc()
            raise
        except Exception as exc:
            metrics.SLACK_ERRORS.labels(method=api_method, error=type(exc).__name__).inc()
            raise
