"""Threshold rules as data: the models, the versioned service, the QCVN and gauge seeds.

The alert engine evaluates these rules; staff edit them through ``/thresholds``.
"""

from analytics.thresholds.errors import RuleNotFoundError, RuleValidationError, ThresholdError
from analytics.thresholds.models import (
    Band,
    Comparison,
    HourRange,
    RuleCreate,
    RuleOut,
    RulePatch,
    RuleSpec,
    RuleVersion,
    ScopeType,
    Severity,
    Window,
)
from analytics.thresholds.seeds import seed_defaults, seed_gauge_rules, seed_qcvn_rules
from analytics.thresholds.service import (
    create_rule,
    disable_rule,
    get_rule,
    list_rules,
    rule_versions,
    update_rule,
)

__all__ = [
    "Band",
    "Comparison",
    "HourRange",
    "RuleCreate",
    "RuleNotFoundError",
    "RuleOut",
    "RulePatch",
    "RuleSpec",
    "RuleValidationError",
    "RuleVersion",
    "ScopeType",
    "Severity",
    "ThresholdError",
    "Window",
    "create_rule",
    "disable_rule",
    "get_rule",
    "list_rules",
    "rule_versions",
    "seed_defaults",
    "seed_gauge_rules",
    "seed_qcvn_rules",
    "update_rule",
]
