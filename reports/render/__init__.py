"""The renderers of a report document: HTML (Jinja2), PDF (fpdf2) and Markdown."""
