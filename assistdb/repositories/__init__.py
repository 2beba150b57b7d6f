"""The repositories: the API's objects through the SDK, written through to the archive."""

from assistdb.repositories.facade import AssistDB

__all__ = ["AssistDB"]
