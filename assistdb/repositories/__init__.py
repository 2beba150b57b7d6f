"""The repositories: the API's objects through the SDK, written through to the archive.

Each repository's operations are written once (``*Ops``) and shown through two faces, blocking
and asyncio; :mod:`assistdb.facades` assembles them. Nothing is imported here, so that archive-only
code can use :mod:`assistdb.repositories.validation` without importing the SDK.
"""
