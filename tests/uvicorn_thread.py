"""The tests' servers run on :class:`lmuq.app.serve.background.UvicornThread`."""

from lmuq.app.serve.background import UvicornThread

__all__ = ["UvicornThread"]
