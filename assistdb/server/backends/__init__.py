"""Models behind the runtime: the scripted model and any Chat Completions endpoint.

A run asks its backend one question per round (``ModelRequest``) and relays what comes back
(``ModelEvent``s) as Assistants objects and stream events; see ``base``.
"""
