"""``ioc bench wall``: the wall at city scale in headless Chromium (docs/performance.md)."""
