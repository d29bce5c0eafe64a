"""The validator's pure domain: rules, checks, score and report (no engine, no I/O)."""

from services.validator.domain.assess import assess, detect_language
from services.validator.domain.context import Inputs
from services.validator.domain.model import Report
from services.validator.domain.rules import CATALOGUE, RuleConfig

__all__ = ["CATALOGUE", "Inputs", "Report", "RuleConfig", "assess", "detect_language"]
