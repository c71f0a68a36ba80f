"""talkinghead: script in, lip-synced video of a real face out."""

__version__ = "0.1.0"
