"""Analytics over stored telemetry: series queries now; rollups, VN_AQI, thresholds, alerts,
anomalies and forecasts as the project grows. Reads the database; never imports the wall."""
