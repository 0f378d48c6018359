"""tagpin's bot: the CLI, the Slack app, the watcher and the use cases behind them."""
