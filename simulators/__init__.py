"""A city in a box: simulated devices that register through the registry and publish over the
real MQTT contract, for demos, tests and load."""
