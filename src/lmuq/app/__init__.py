"""The app on top of the library: the demo/run job, file scoring, report from a folder, CLI.

Nothing in the library imports from here.
"""
