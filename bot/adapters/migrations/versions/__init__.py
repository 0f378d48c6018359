"""tagpin's schema revisions, oldest first; the revision id is the number tagpin_schema.version records."""
