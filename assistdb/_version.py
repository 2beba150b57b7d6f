"""The one place the version is written: the build reads it from here (``[tool.hatch.version]``),
so ``--version`` needs no package-metadata lookup at start-up (``importlib.metadata`` and the
e-mail parser it loads cost tens of milliseconds)."""

__version__ = "0.1.0"
