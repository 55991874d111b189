"""Reading studies back: list arguments -> MongoDB filters (``filters``) and date-windowed pages (``listing``)."""
