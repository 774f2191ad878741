"""The report in its forms: JSON (the contract), Markdown, HTML with a timeline chart; and where it goes."""
