"""rnnviz: see inside recurrent networks."""

__version__ = "0.1.0"
