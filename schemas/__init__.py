"""Marshmallow schemas: study documents, export rows, query arguments."""
