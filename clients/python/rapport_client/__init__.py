"""Python client for rapport, the gRPC service that reads how customers feel.

    from rapport_client import RapportClient

    with RapportClient("127.0.0.1:50051") as client:
        a = client.analyze("Where is my refund? I was promised it last week.")[0]
        print(a.sentiment.label, a.emotion_labels)

The generated stubs and message types are in `rapport_client.pb`.
"""
from . import pb
from .client import (
    DEFAULT_TARGET,
    Conversation,
    ConversationError,
    ProfileExport,
    Profiles,
    RapportClient,
    ScoreResult,
    event,
    message,
    timestamp,
)

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_TARGET",
    "Conversation",
    "ConversationError",
    "ProfileExport",
    "Profiles",
    "RapportClient",
    "ScoreResult",
    "event",
    "message",
    "pb",
    "timestamp",
]
