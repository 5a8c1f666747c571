"""``ioc bench query``: the wall's queries against 100 million readings."""
