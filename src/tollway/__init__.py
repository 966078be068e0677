"""tollway: route LLM chat requests by meaning and govern what they cost."""

from .catalog import Catalog, ModelSpec, Upstream
from .classify.base import Classifier, Match
from .classify.rules import RulesClassifier
from .config import RouterConfig, TaskPolicy, TollwayConfig, load_config
from .decision import Attempt, Decision, Usage
from .errors import (
    AllCandidatesFailed,
    ConfigError,
    InvalidRequest,
    NoRouteMatched,
    NotFound,
    RequestError,
    TollwayError,
    UpstreamError,
)
from .health import Health
from .pipeline import Call, ChatRequest, Next, Pipeline, Reply, Stage
from .result import Completion, CompletionStream
from .router import Router
from .upstream import HttpUpstream

__version__ = "0.1.0"

__all__ = [
    "AllCandidatesFailed",
    "Attempt",
    "Call",
    "Catalog",
    "ChatRequest",
    "Classifier",
    "Completion",
    "CompletionStream",
    "ConfigError",
    "Decision",
    "Health",
    "HttpUpstream",
    "InvalidRequest",
    "Match",
    "ModelSpec",
    "Next",
    "NoRouteMatched",
    "NotFound",
    "Pipeline",
    "Reply",
    "RequestError",
    "Router",
    "RouterConfig",
    "RulesClassifier",
    "Stage",
    "TaskPolicy",
    "TollwayConfig",
    "TollwayError",
    "Upstream",
    "UpstreamError",
    "Usage",
    "load_config",
]
