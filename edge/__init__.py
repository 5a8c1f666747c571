"""The edge video node: a traffic camera becomes counts and events, never footage."""
